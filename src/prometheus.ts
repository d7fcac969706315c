// The `express-load-balance/prometheus` entry. It is the only module that imports
// prom-client (an optional peer dependency), and the main entry never imports it.
import { Counter, Gauge, Histogram, register as defaultRegistry, type Registry } from 'prom-client';
import {
  HEDGE_METRICS,
  hedgeMetrics,
  MIRROR_METRICS,
  mirrorMetrics,
  QUEUE_METRICS,
  queueMetrics,
  type Unsubscribe,
} from './prometheus/feature-metrics';
import type { AttemptEnd, MeteredBalancer } from './prometheus/types';

export type { AttemptEnd, MeteredBalancer, MirrorCounts, QueueLeave } from './prometheus/types';

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
    ...(mirrored ? MIRROR_METRICS : []),
    ...(hedged ? HEDGE_METRICS : []),
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

  const group = { prefix, registers, buckets };
  const unsubscribes: Unsubscribe[] = [];
  if (queued) unsubscribes.push(queueMetrics(lb, group));
  if (mirrored) mirrorMetrics(lb, group);
  if (hedged) unsubscribes.push(hedgeMetrics(lb, group));

  let closed = false;
  return {
    registry,
    names,
    close() {
      if (closed) return;
      closed = true;
      lb.off('proxyEnd', record);
      for (const unsubscribe of unsubscribes) unsubscribe();
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
