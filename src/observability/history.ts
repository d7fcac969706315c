import { percentiles, STATS_BUCKETS, type Summary } from './attempt-window';
import type { Pool } from '../balancing/pool';

/** One line of the status page's charts: a value per second, oldest first. */
export interface Series {
  /** Attempts that ended in each second. */
  readonly perSecond: readonly number[];
  /** Their p99 latency in ms; null for a second in which none ended. */
  readonly p99: readonly (number | null)[];
}

/** What the status page charts: each current target's last minute, in pool order, and the total. */
export interface BalancerHistory {
  readonly targets: readonly Series[];
  readonly total: Series;
}

/**
 * Reads each of `lists` (a target's summaries of the last 60 seconds) second by second,
 * as their sum: the total's p99 walks every target's histogram of that second side by
 * side, as `lb.stats()` does for the minute.
 */
function seriesOf(lists: readonly (readonly Summary[])[]): Series {
  const counts: number[] = [];
  const p99: (number | null)[] = [];
  for (let s = 0; s < STATS_BUCKETS; s++) {
    const histograms: Uint32Array[] = [];
    let count = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = -1;
    for (const list of lists) {
      const second = list[s]!;
      if (second.count === 0) continue;
      histograms.push(...second.histograms);
      count += second.count;
      if (second.min < min) min = second.min;
      if (second.max > max) max = second.max;
    }
    // The balancer's buckets are a second long: a bucket's count is its rate.
    counts.push(count);
    p99.push(percentiles({ histograms, count, min, max }).p99);
  }
  return { perSecond: counts, p99 };
}

/**
 * The last minute of every current target, second by second, and the total. Run when
 * the status page is rendered, never per request: it walks up to 60 histograms per
 * target.
 */
export function balancerHistory(pool: Pool, now: number): BalancerHistory {
  const histories = pool.targets.map((target) => target.recent.history(now));
  return { targets: histories.map((history) => seriesOf([history])), total: seriesOf(histories) };
}
