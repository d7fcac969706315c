// The `express-load-balance/prometheus` entry. It is the only module that imports
// prom-client (an optional peer dependency), and the main entry never imports it.
import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';

/**
 * The part of a `proxyEnd` event the metrics read. Written out here rather than
 * imported, so that this entry's type declarations share nothing with the main one's.
 * @public
 */
export interface AttemptEnd {
  readonly target: { readonly url: string };
  readonly method: string;
  readonly status: number | undefined;
  readonly result: 'response' | 'error' | 'aborted' | 'hedge-lost';
  readonly durationMs: number;
}

/**
 * The part of a `dequeue` event the metrics read.
 * @public
 */
export interface QueueLeave {
  readonly waitedMs: number;
  readonly result: 'served' | 'timeout' | 'aborted' | 'closed';
}

/**
 * The part of `lb.stats().mirror` the metrics read.
 * @public
 */
export interface MirrorCounts {
  readonly inFlight: number;
  readonly sent: number;
  readonly skipped: number;
  readonly failed: number;
}

/**
 * What {@link prometheusMetrics} needs of a balancer: every `loadBalance()` middleware
 * has it.
 * @public
 */
export interface MeteredBalancer {
  on(name: 'proxyEnd', listener: (event: AttemptEnd) => void): unknown;
  on(name: 'dequeue', listener: (event: QueueLeave) => void): unknown;
  on(name: 'hedge', listener: () => void): unknown;
  off(name: 'proxyEnd', listener: (event: AttemptEnd) => void): unknown;
  off(name: 'dequeue', listener: (event: QueueLeave) => void): unknown;
  off(name: 'hedge', listener: () => void): unknown;
  /**
   * Read at registration, where a balancer with a wait queue, a mirror or hedging gets
   * their metrics too, and at scrape time for the queue and the mirror.
   */
  stats?(): { readonly queue?: { readonly length: number }; readonly mirror?: MirrorCounts; readonly hedge?: object };
  targets(): ReadonlyArray<{
    readonly url: string;
    readonly inFlight: number;
    readonly healthy: boolean;
    readonly ejected: boolean;
    readonly resting?: boolean;
  }>;
}

/**
 * Options of {@link prometheusMetrics}.
 * @public
 */
export interface PrometheusOptions {
  /** Where the metrics are registered. Default: prom-client's default registry. */
  registry?: Registry;
  /** Put before every metric name. Default `'elb_'`. Give each balancer its own when several share a registry. */
  prefix?: string;
  /** Upper bounds of the duration histogram's buckets, in seconds. Default: prom-client's (5 ms to 10 s). */
  buckets?: readonly number[];
}

/**
 * The metrics {@link prometheusMetrics} registered.
 * @public
 */
export interface PrometheusMetrics {
  readonly registry: Registry;
  /** The full names of the metrics, prefix included. */
  readonly names: readonly string[];
  /** Stops counting and removes the metrics from the registry. Idempotent. */
  close(): void;
}

/** `status_class` label by hundreds digit (Node accepts statuses 100 to 999). */
const STATUS_CLASSES = Object.freeze(Array.from({ length: 10 }, (_, digit) => `${digit}xx`));
const LABELS = ['target', 'method', 'status_class'] as const;
/** Registered only for a balancer with a wait queue (the `queue` option). */
const QUEUE_METRICS = ['queue_length', 'queue_wait_seconds'];
/** Registered only for a balancer with the `mirror` option, read from its stats at scrape time. */
const MIRROR_COUNTERS = [
  ['mirror_sent_total', 'sent', 'Copies of requests sent to mirror targets'],
  [
    'mirror_skipped_total',
    'skipped',
    'Requests sampled for mirroring but not copied (mirror.maxInFlight copies open, or body over mirror.maxBodySize)',
  ],
  ['mirror_failed_total', 'failed', 'Copies sent to mirror targets that got no complete answer'],
] as const;
const MIRROR_IN_FLIGHT = 'mirror_in_flight_requests';
/** Registered only for a balancer with hedging on (the `hedge` option). */
const HEDGE_TOTAL = 'hedges_total';
/** Prometheus's metric name syntax (data model: metric names and labels). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

type Labels = Record<(typeof LABELS)[number], string>;

function statusClass(event: AttemptEnd): string {
  if (event.result === 'error' || event.result === 'hedge-lost') return event.result;
  const { status } = event;
  if (status === undefined) return 'aborted';
  return STATUS_CLASSES[Math.floor(status / 100)] ?? 'error';
}

function fail(option: string, expected: string): never {
  throw new TypeError(`express-load-balance: prometheusMetrics() option "${option}" must be ${expected}`);
}

/** Whether `value` is a non-empty array of increasing positive numbers (histogram bucket bounds). */
function isBucketBounds(value: unknown): value is readonly number[] {
  if (!Array.isArray(value) || value.length === 0) return false;
  const bounds: readonly unknown[] = value;
  return !bounds.some(
    (bound, i) => typeof bound !== 'number' || !(bound > 0) || !Number.isFinite(bound) || (i > 0 && bound <= (bounds[i - 1] as number)),
  );
}

/**
 * Exposes a balancer's traffic as Prometheus metrics, through prom-client (install it
 * next to this package: it is an optional peer dependency). Registers, with the default
 * prefix:
 *
 * - `elb_requests_total` counter: attempts sent upstream (each retry counts), by
 *   `target`, `method` and `status_class` (`2xx`…`5xx`, `error` when the target could not
 *   be reached, reset, timed out or broke off its answer, `aborted` when the client left
 *   before the answer, `hedge-lost` when another attempt of a hedged request answered
 *   first);
 * - `elb_request_duration_seconds` histogram: their durations, to the end of the
 *   response, by the same labels;
 * - `elb_in_flight_requests` gauge by `target`, read at scrape time;
 * - `elb_target_up` gauge by `target`: 1 while it may take requests (healthy, not
 *   ejected, not resting after a `Retry-After`), 0 otherwise, read at scrape time;
 * - with the `queue` option on: `elb_queue_length` gauge (requests waiting, read at
 *   scrape time) and `elb_queue_wait_seconds` histogram by `result` (`served`,
 *   `timeout`, `aborted`, `closed`);
 * - with the `mirror` option on, read at scrape time from `lb.stats().mirror`:
 *   `elb_mirror_sent_total`, `elb_mirror_skipped_total` and `elb_mirror_failed_total`
 *   counters and the `elb_mirror_in_flight_requests` gauge;
 * - with the `hedge` option on: `elb_hedges_total` counter, hedges sent (extra attempts
 *   of requests whose first answer was late).
 *
 * The series of a target that was removed disappear at the next scrape.
 *
 * A `TypeError` names a bad option, or a prefix whose metrics the registry already has.
 *
 * @example
 * ```ts
 * import { register } from 'prom-client';
 * import { prometheusMetrics } from 'express-load-balance/prometheus';
 *
 * const lb = loadBalance({ targets });
 * prometheusMetrics(lb);
 * app.get('/metrics', async (_req, res) => {
 *   res.type(register.contentType).send(await register.metrics());
 * });
 * app.use('/api', lb);
 * ```
 * @public
 */
export function prometheusMetrics(lb: MeteredBalancer, options: PrometheusOptions = {}): PrometheusMetrics {
  if (typeof lb?.on !== 'function' || typeof lb.off !== 'function' || typeof lb.targets !== 'function') {
    throw new TypeError('express-load-balance: prometheusMetrics() takes the middleware loadBalance() returned');
  }
  if (options === null || typeof options !== 'object') fail('options', 'an object');
  const { registry = defaultRegistry, prefix = 'elb_', buckets } = options;
  if (registry === null || typeof registry !== 'object' || typeof registry.getSingleMetric !== 'function') {
    fail('registry', 'a prom-client Registry');
  }
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_NAME.test(prefix))) {
    fail('prefix', 'a string of letters, digits, _ and : that does not start with a digit');
  }
  if (buckets !== undefined && !isBucketBounds(buckets)) {
    fail('buckets', 'a non-empty array of increasing positive numbers of seconds');
  }
  const initial = typeof lb.stats === 'function' ? lb.stats() : undefined;
  const queued = initial?.queue !== undefined;
  const mirrored = initial?.mirror !== undefined;
  const hedged = initial?.hedge !== undefined;
  const names = [
    'requests_total',
    'request_duration_seconds',
    'in_flight_requests',
    'target_up',
    ...(queued ? QUEUE_METRICS : []),
    ...(mirrored ? [...MIRROR_COUNTERS.map(([name]) => name), MIRROR_IN_FLIGHT] : []),
    ...(hedged ? [HEDGE_TOTAL] : []),
  ].map((name) => prefix + name);
  const taken = names.find((name) => registry.getSingleMetric(name) !== undefined);
  if (taken !== undefined) {
    throw new TypeError(
      `express-load-balance: prometheusMetrics(): the registry already has ${taken}; give each balancer its own "prefix" or "registry"`,
    );
  }
  const [requestsName, durationName, inFlightName, upName] = names as [string, string, string, string];
  const registers = [registry];

  /**
   * Label sets counted so far, by target, then by method and status class: what to
   * remove once the target is gone, so that targets coming and going (DNS discovery,
   * autoscaling) do not grow the series without bound.
   */
  const series = new Map<string, Map<string, Labels>>();
  const forgetRemovedTargets = (): void => {
    if (series.size === 0) return;
    const current = new Set(lb.targets().map((target) => target.url));
    for (const [url, labelSets] of series) {
      if (current.has(url)) continue;
      for (const labels of labelSets.values()) {
        requests.remove(labels);
        duration.remove(labels);
      }
      series.delete(url);
    }
  };
  const requests = new Counter({
    name: requestsName,
    help: 'Requests sent to upstream targets (each attempt counts)',
    labelNames: LABELS,
    registers,
    collect: forgetRemovedTargets,
  });
  const duration = new Histogram({
    name: durationName,
    help: 'Duration of requests sent to upstream targets, to the end of the response, in seconds',
    labelNames: LABELS,
    registers,
    collect: forgetRemovedTargets,
    ...(buckets === undefined ? {} : { buckets: [...buckets] }),
  });
  new Gauge({
    name: inFlightName,
    help: 'Requests to each target whose response has not finished yet',
    labelNames: ['target'] as const,
    registers,
    collect() {
      // Reset first, so targets removed since the last scrape disappear.
      this.reset();
      for (const target of lb.targets()) this.set({ target: target.url }, target.inFlight);
    },
  });
  new Gauge({
    name: upName,
    help: 'Whether each target may take requests: 1 when healthy, not ejected and not resting, else 0',
    labelNames: ['target'] as const,
    registers,
    collect() {
      this.reset();
      for (const target of lb.targets())
        this.set({ target: target.url }, target.healthy && !target.ejected && target.resting !== true ? 1 : 0);
    },
  });

  const record = (event: AttemptEnd): void => {
    // `method` is bounded: Node's HTTP parser accepts only the methods in http.METHODS.
    const labels: Labels = { target: event.target.url, method: event.method, status_class: statusClass(event) };
    let labelSets = series.get(labels.target);
    if (labelSets === undefined) series.set(labels.target, (labelSets = new Map<string, Labels>()));
    const key = `${labels.method} ${labels.status_class}`;
    if (!labelSets.has(key)) labelSets.set(key, labels);
    requests.inc(labels);
    duration.observe(labels, event.durationMs / 1000);
  };
  lb.on('proxyEnd', record);

  let waited: ((event: QueueLeave) => void) | undefined;
  if (queued) {
    new Gauge({
      name: prefix + 'queue_length',
      help: 'Requests waiting in the wait queue',
      registers,
      collect() {
        this.set(lb.stats?.().queue?.length ?? 0);
      },
    });
    const wait = new Histogram({
      name: prefix + 'queue_wait_seconds',
      help: 'Time requests spent in the wait queue, by how the wait ended, in seconds',
      labelNames: ['result'] as const,
      registers,
      ...(buckets === undefined ? {} : { buckets: [...buckets] }),
    });
    waited = (event) => wait.observe({ result: event.result }, event.waitedMs / 1000);
    lb.on('dequeue', waited);
  }

  if (mirrored) {
    const mirror = (): MirrorCounts | undefined => lb.stats?.().mirror;
    for (const [name, field, help] of MIRROR_COUNTERS) {
      new Counter({
        name: prefix + name,
        help,
        registers,
        collect() {
          // The balancer keeps the totals; a counter can only be raised, so it is set by reset and inc.
          this.reset();
          this.inc(mirror()?.[field] ?? 0);
        },
      });
    }
    new Gauge({
      name: prefix + MIRROR_IN_FLIGHT,
      help: 'Copies of requests to mirror targets whose answer has not finished yet',
      registers,
      collect() {
        this.set(mirror()?.inFlight ?? 0);
      },
    });
  }

  let hedgeSent: (() => void) | undefined;
  if (hedged) {
    const hedges = new Counter({
      name: prefix + HEDGE_TOTAL,
      help: 'Hedges sent: extra attempts of requests whose first answer was late',
      registers,
    });
    hedgeSent = () => hedges.inc();
    lb.on('hedge', hedgeSent);
  }

  let closed = false;
  return {
    registry,
    names,
    close() {
      if (closed) return;
      closed = true;
      lb.off('proxyEnd', record);
      if (waited !== undefined) lb.off('dequeue', waited);
      if (hedgeSent !== undefined) lb.off('hedge', hedgeSent);
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
