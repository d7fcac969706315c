import { percentiles, STATS_WINDOW_MS, type WindowStats } from './attempt-window';
import type { Pool } from '../balancing/pool';
import type { TargetStatus } from '../balancing/target-views';
import type { MirrorStats } from '../forwarding/mirror';

/**
 * One target in {@link BalancerStats}.
 * @public
 */
export interface TargetStats extends TargetStatus {
  /** Attempts that ended within the window, with their latency percentiles. */
  readonly recent: WindowStats & {
    /** This target's part of all attempts that ended within the window, 0 to 1 (0 when there were none). */
    readonly share: number;
  };
}

/**
 * What `lb.stats()` returns: every current target, and totals over them.
 * @public
 */
export interface BalancerStats {
  /** How far back `recent` figures reach, in ms. */
  readonly windowMs: number;
  /** True while no target is usable and requests go to all of them anyway (panic mode). */
  readonly panic: boolean;
  /** Every current target, in pool order. */
  readonly targets: readonly TargetStats[];
  /** Sums over all current targets. */
  readonly totals: {
    /** Current targets. */
    readonly targets: number;
    /** Of those, the ones that may take requests: healthy, not ejected, not resting. */
    readonly usable: number;
    /** Requests in flight to any target. */
    readonly inFlight: number;
    /** Attempts since start. */
    readonly requests: number;
    /** Failed attempts since start. */
    readonly failures: number;
    /** Over all targets' attempts that ended within the window. */
    readonly recent: WindowStats;
  };
  /** The wait queue, when the `queue` option is on. */
  readonly queue?: QueueStats;
  /** Copies sent to mirror targets, when the `mirror` option is on. */
  readonly mirror?: MirrorStats;
  /** Hedged requests, when the `hedge` option is on. */
  readonly hedge?: HedgeStats;
}

/**
 * Hedged requests in {@link BalancerStats}.
 * @public
 */
export interface HedgeStats {
  /** Hedges sent since start: extra attempts of requests whose first answer was late. */
  readonly sent: number;
  /** Of those, the ones whose answer came first and was forwarded. */
  readonly won: number;
  /** The delay in force, in ms; null while a percentile delay waits for 50 attempts in the window. */
  readonly delayMs: number | null;
}

/** What the stats read of hedging. */
export interface HedgeView {
  readonly sent: number;
  readonly won: number;
  delay(): number | undefined;
}

/**
 * The wait queue in {@link BalancerStats}.
 * @public
 */
export interface QueueStats {
  /** Requests waiting now. */
  readonly length: number;
  /** The most that may wait at once (`queue.size`). */
  readonly size: number;
  /**
   * Waits that ended within the window: `requests` counts them, `failures` those that
   * were not served (timed out, client gone, balancer closed), `latency` how long they
   * waited.
   */
  readonly recent: WindowStats;
}

/** What the stats read of the wait queue. */
export interface QueueView {
  readonly length: number;
  readonly size: number;
  readonly recent: { read(now: number): WindowStats };
}

/** Reads every current target's counters and window at `now`. Targets being drained after removal are left out. */
export function balancerStats(
  pool: Pool,
  now: number,
  queue?: QueueView,
  mirror?: { stats(): MirrorStats },
  hedging?: HedgeView,
): BalancerStats {
  const list = pool.targets;
  const windows = list.map((target) => target.recent.read(now));
  const histograms: Uint32Array[] = [];
  let count = 0;
  let failures = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = -1;
  for (const target of list) {
    const summary = target.recent.summary();
    histograms.push(...summary.histograms);
    count += summary.count;
    if (summary.min < min) min = summary.min;
    if (summary.max > max) max = summary.max;
  }
  for (const window of windows) failures += window.failures;
  let inFlight = 0;
  let requests = 0;
  let failed = 0;
  let usable = 0;
  const targets = list.map((target, i): TargetStats => {
    const recent = windows[i]!;
    inFlight += target.inFlight;
    requests += target.requests;
    failed += target.failures;
    if (target.usable) usable++;
    return { ...target.status(), recent: { ...recent, share: count === 0 ? 0 : recent.requests / count } };
  });
  const waiting = queue === undefined ? {} : { queue: { length: queue.length, size: queue.size, recent: queue.recent.read(now) } };
  return {
    windowMs: STATS_WINDOW_MS,
    panic: pool.panic,
    targets,
    totals: {
      targets: list.length,
      usable,
      inFlight,
      requests,
      failures: failed,
      recent: { requests: count, failures, latency: percentiles({ histograms, count, min, max }) },
    },
    ...waiting,
    ...(mirror === undefined ? {} : { mirror: mirror.stats() }),
    ...(hedging === undefined ? {} : { hedge: { sent: hedging.sent, won: hedging.won, delayMs: hedging.delay() ?? null } }),
  };
}
