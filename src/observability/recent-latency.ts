import type { Clock } from '../clock';
import { quantiles, type AttemptWindow, type Summary } from './attempt-window';

/** How often the percentile is read again from the windows; between reads, the last value serves. */
export const RECENT_LATENCY_REFRESH_MS = 1_000;

/**
 * One percentile of the last minute's attempt latency over all targets, for a delay that
 * follows the fleet (the `hedge` option's `'p95'`). Reading it walks every target's
 * histogram, so it is read at most once per {@link RECENT_LATENCY_REFRESH_MS} and cached:
 * requests in between pay one clock reading and a comparison.
 */
export class RecentLatency {
  private value: number | undefined = undefined;
  private readAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly windows: () => readonly { readonly recent: AttemptWindow }[],
    /** The quantile, in (0, 1). */
    private readonly quantile: number,
    /** Fewer attempts than this in the window: no value (too few to trust a tail percentile). */
    private readonly minCount: number,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /** The percentile in ms, at least 1; undefined while fewer than `minCount` attempts ended in the window. */
  read(): number | undefined {
    const now = this.clock.now();
    if (now - this.readAt < RECENT_LATENCY_REFRESH_MS) return this.value;
    this.readAt = now;
    const targets = this.windows();
    const histograms: Uint32Array[] = [];
    let count = 0;
    let min = Number.POSITIVE_INFINITY;
    let max = -1;
    for (const target of targets) {
      const summary: Summary = target.recent.summaryAt(now);
      histograms.push(...summary.histograms);
      count += summary.count;
      if (summary.min < min) min = summary.min;
      if (summary.max > max) max = summary.max;
    }
    this.value = count < this.minCount ? undefined : Math.max(1, quantiles({ histograms, count, min, max }, [this.quantile])[0]!);
    return this.value;
  }
}
