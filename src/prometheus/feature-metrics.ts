// The metrics of features a balancer may not have on: the wait queue, the mirror and
// hedging. Each group is registered only when the balancer has its feature, read from
// its first `lb.stats()`.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { MeteredBalancer, MirrorCounts, QueueLeave } from './types';

/** Where a group registers, and how. */
export interface GroupSetting {
  readonly prefix: string;
  readonly registers: Registry[];
  readonly buckets: readonly number[] | undefined;
}

/** A registered group: what `close()` undoes besides removing the metrics from the registry. */
export type Unsubscribe = () => void;

/** Registered only for a balancer with a wait queue (the `queue` option). */
export const QUEUE_METRICS = ['queue_length', 'queue_wait_seconds'];

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
export const MIRROR_METRICS = [...MIRROR_COUNTERS.map(([name]) => name), MIRROR_IN_FLIGHT];

/** Registered only for a balancer with hedging on (the `hedge` option). */
const HEDGE_TOTAL = 'hedges_total';
export const HEDGE_METRICS = [HEDGE_TOTAL];

/** `elb_queue_length` (read at scrape time) and `elb_queue_wait_seconds` by how the wait ended. */
export function queueMetrics(lb: MeteredBalancer, { prefix, registers, buckets }: GroupSetting): Unsubscribe {
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
  const waited = (event: QueueLeave): void => wait.observe({ result: event.result }, event.waitedMs / 1000);
  lb.on('dequeue', waited);
  return () => lb.off('dequeue', waited);
}

/** The mirror's totals and copies in flight, read at scrape time from `lb.stats().mirror`. */
export function mirrorMetrics(lb: MeteredBalancer, { prefix, registers }: GroupSetting): void {
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

/** `elb_hedges_total`: hedges sent, counted from the `hedge` event. */
export function hedgeMetrics(lb: MeteredBalancer, { prefix, registers }: GroupSetting): Unsubscribe {
  const hedges = new Counter({
    name: prefix + HEDGE_TOTAL,
    help: 'Hedges sent: extra attempts of requests whose first answer was late',
    registers,
  });
  const hedgeSent = (): void => hedges.inc();
  lb.on('hedge', hedgeSent);
  return () => lb.off('hedge', hedgeSent);
}
