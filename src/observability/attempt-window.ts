/**
 * Recent attempts of one target: how many ended, how many failed, and their durations,
 * over a sliding window, cheap enough to record on every attempt.
 *
 * Durations go into a log-linear histogram (HdrHistogram's layout, two significant
 * figures): whole microseconds, exact below 16 µs, then 16 sub-bins per power of two,
 * so a percentile read from a bin's midpoint is within about 3 % of the true value. The
 * window is a ring of time buckets, each with its own histogram, plus a running sum of
 * the live buckets; a bucket leaves the sum when the clock has moved past the window,
 * lazily, by whichever record or read comes first. The ring keeps one bucket more than
 * the window, so that {@link AttemptWindow.history} can read the last `buckets` whole
 * buckets while the newest one is still filling. Recording is a few integer operations
 * and no allocation; reading walks one histogram (totals walk all targets' histograms
 * side by side, without merging them into a copy).
 */

/** How far back `lb.stats()` looks: the last minute, sliding by 1 s steps. */
export const STATS_WINDOW_MS = 60_000;
/** One bucket a second: the status page charts each second of the last minute. */
export const STATS_BUCKETS = 60;

/** Sub-bins per power of two: 2^4, for about 3 % relative error at a bin's midpoint. */
const SUB_BITS = 4;
const SUB = 1 << SUB_BITS;
/** Durations of 2^31 µs (about 36 minutes) and more share the last bin. */
const MAX_US = 2 ** 31 - 1;
/** Bins 0..15 hold 0..15 µs exactly; then 16 bins for each exponent 4..30. */
const BINS = SUB + (31 - SUB_BITS) * SUB;

/** The bin of a duration in whole microseconds (0 <= us <= MAX_US). */
function binOf(us: number): number {
  if (us < SUB) return us;
  const exponent = 31 - Math.clz32(us);
  return (exponent - SUB_BITS + 1) * SUB + ((us >>> (exponent - SUB_BITS)) & (SUB - 1));
}

/** The lowest duration, in µs, that falls in `bin`. */
function binLow(bin: number): number {
  if (bin < SUB) return bin;
  const exponent = (bin >>> SUB_BITS) + SUB_BITS - 1;
  return (SUB + (bin & (SUB - 1))) * 2 ** (exponent - SUB_BITS);
}

/** The width, in µs, of `bin`. */
function binWidth(bin: number): number {
  return bin < SUB ? 1 : 2 ** ((bin >>> SUB_BITS) - 1);
}

/**
 * Latency percentiles in milliseconds over the stats window; `null` when no attempt
 * ended in it.
 * @public
 */
export interface LatencyPercentiles {
  /** Median latency in ms, or null when no attempt ended in the window. */
  readonly p50: number | null;
  /** 95th percentile in ms, or null. */
  readonly p95: number | null;
  /** 99th percentile in ms, or null. */
  readonly p99: number | null;
}

/**
 * What happened within the stats window: attempts that ended in it.
 * @public
 */
export interface WindowStats {
  /** Attempts that ended within the window (each retry counts). */
  readonly requests: number;
  /** Of those, the ones that failed: unreachable, reset, timed out, broken off, or answered with a `retryOn` status. */
  readonly failures: number;
  /** Durations of those attempts, failed ones included, from sending to the end of the response. */
  readonly latency: LatencyPercentiles;
}

/**
 * One or more histograms read as their sum (a total over targets needs no merged copy),
 * with what a percentile needs besides the bins: the count and the extremes.
 */
export interface Summary {
  readonly histograms: readonly Uint32Array[];
  readonly count: number;
  readonly min: number;
  readonly max: number;
}

const NO_LATENCY: LatencyPercentiles = Object.freeze({ p50: null, p95: null, p99: null });

/**
 * Nearest-rank percentiles (the smallest value with at least q·n samples at or below
 * it), each read as its bin's midpoint and kept within the smallest and largest duration
 * seen, so that a window of equal durations reads exactly; the top rank reads the
 * largest duration.
 */
export function percentiles(summary: Summary): LatencyPercentiles {
  if (summary.count === 0) return NO_LATENCY;
  const [p50, p95, p99] = quantiles(summary, STATS_QUANTILES);
  return { p50: p50!, p95: p95!, p99: p99! };
}

const STATS_QUANTILES = [0.5, 0.95, 0.99] as const;

/** The values in ms at the quantiles `qs` (increasing, each in (0, 1]) of a summary with samples; see {@link percentiles}. */
export function quantiles({ histograms, count, min, max }: Summary, qs: readonly number[]): number[] {
  const ranks = qs.map((q) => Math.ceil(q * count));
  const values = qs.map(() => 0);
  let next = 0;
  let seen = 0;
  for (let bin = 0; bin < BINS && next < qs.length; bin++) {
    for (let h = 0; h < histograms.length; h++) seen += histograms[h]![bin]!;
    while (next < qs.length && seen >= ranks[next]!) {
      // The top rank is the largest duration, known exactly.
      const mid = ranks[next] === count ? max : binLow(bin) + (binWidth(bin) - 1) / 2;
      values[next++] = Math.min(Math.max(mid, min), max) / 1000;
    }
  }
  return values;
}

const NO_ATTEMPT: Summary = Object.freeze({ histograms: Object.freeze([]), count: 0, min: Number.POSITIVE_INFINITY, max: -1 });

/**
 * One target's sliding window. `now` is a monotonic clock reading in ms (the balancer
 * passes `performance.now()`; tests pass what they like).
 */
export class AttemptWindow {
  readonly windowMs: number;
  private readonly bucketMs: number;
  private readonly buckets: number;
  /** Ring slots: the live buckets and the one that last left the window. */
  private readonly ring: number;
  /** Ring slot i's histogram is bins[i*BINS .. (i+1)*BINS). */
  private readonly bins: Uint32Array;
  /** The sum of the live buckets' histograms. */
  private readonly live = new Uint32Array(BINS);
  private readonly counts: Uint32Array;
  private readonly failureCounts: Uint32Array;
  /** Per ring slot, smallest and largest duration in µs (Infinity / -1 when empty). */
  private readonly mins: Float64Array;
  private readonly maxes: Float64Array;
  private liveCount = 0;
  private liveFailures = 0;
  /** The time slot (floor(now / bucketMs)) of the newest bucket; the live ones are the `buckets` slots up to it. */
  private slot = Number.NEGATIVE_INFINITY;

  /**
   * @param windowMs how far back the window reaches
   * @param buckets how many pieces it is cut into: the window slides by windowMs / buckets
   */
  constructor(windowMs = STATS_WINDOW_MS, buckets = STATS_BUCKETS) {
    this.windowMs = windowMs;
    this.buckets = buckets;
    this.ring = buckets + 1;
    this.bucketMs = windowMs / buckets;
    this.bins = new Uint32Array(BINS * this.ring);
    this.counts = new Uint32Array(this.ring);
    this.failureCounts = new Uint32Array(this.ring);
    this.mins = new Float64Array(this.ring).fill(Number.POSITIVE_INFINITY);
    this.maxes = new Float64Array(this.ring).fill(-1);
  }

  /** Counts an attempt that ended at `now` after `durationMs`. */
  record(durationMs: number, ok: boolean, now: number): void {
    const i = this.advance(now);
    const us = durationMs >= MAX_US / 1000 ? MAX_US : durationMs > 0 ? Math.round(durationMs * 1000) : 0;
    const bin = binOf(us);
    this.bins[i * BINS + bin]!++;
    this.live[bin]!++;
    this.counts[i]!++;
    this.liveCount++;
    if (!ok) {
      this.failureCounts[i]!++;
      this.liveFailures++;
    }
    if (us < this.mins[i]!) this.mins[i] = us;
    if (us > this.maxes[i]!) this.maxes[i] = us;
  }

  /** Attempts that ended within the window before `now`. */
  read(now: number): WindowStats {
    this.advance(now);
    return { requests: this.liveCount, failures: this.liveFailures, latency: percentiles(this.summary()) };
  }

  /** The window moved to `now`, as a {@link Summary} (for a percentile over targets, without reading each one's). */
  summaryAt(now: number): Summary {
    this.advance(now);
    return this.summary();
  }

  /** The live histogram with its count and extremes (for totals over targets); call {@link read} first. */
  summary(): Summary {
    let min = Number.POSITIVE_INFINITY;
    let max = -1;
    if (this.liveCount === 0) return { histograms: [this.live], count: 0, min, max };
    // Every ring slot is live but the one that last left the window.
    const gone = this.index(this.slot + 1);
    for (let i = 0; i < this.ring; i++) {
      if (i === gone) continue;
      if (this.mins[i]! < min) min = this.mins[i]!;
      if (this.maxes[i]! > max) max = this.maxes[i]!;
    }
    return { histograms: [this.live], count: this.liveCount, min, max };
  }

  /**
   * The last `buckets` whole buckets before the one `now` falls in, oldest first: what
   * ended in each, as a summary to read percentiles from. For the status page's charts;
   * it allocates, so it is not for the request path. The summaries share the window's
   * memory: read them before the next record.
   */
  history(now: number): Summary[] {
    this.advance(now);
    const out: Summary[] = [];
    for (let k = this.buckets; k >= 1; k--) {
      const i = this.index(this.slot - k);
      const count = this.counts[i]!;
      const histogram = this.bins.subarray(i * BINS, (i + 1) * BINS);
      out.push(count === 0 ? NO_ATTEMPT : { histograms: [histogram], count, min: this.mins[i]!, max: this.maxes[i]! });
    }
    return out;
  }

  /**
   * Moves the window to `now`: buckets the clock has left behind are taken off the live
   * sum, and ring slots about to be reused are cleared. Returns the ring slot `now` falls
   * in. A clock reading older than the newest bucket (it cannot happen with a monotonic
   * clock) counts there.
   */
  private advance(now: number): number {
    const slot = Math.floor(now / this.bucketMs);
    if (slot > this.slot) {
      // Before the first record, the ring is empty and nothing is live.
      if (Number.isFinite(this.slot)) {
        const oldest = this.slot - this.buckets + 1;
        const leaving = Math.min(slot - this.slot, this.buckets);
        for (let t = oldest; t < oldest + leaving; t++) this.retire(this.index(t));
        // A slot is reused one lap of the ring later, once it has left the window.
        const arriving = Math.min(slot - this.slot, this.ring);
        for (let t = slot - arriving + 1; t <= slot; t++) this.clear(this.index(t));
      }
      this.slot = slot;
    }
    return this.index(this.slot);
  }

  private index(slot: number): number {
    return ((slot % this.ring) + this.ring) % this.ring;
  }

  /** Takes ring slot i off the live sum; its own counts stay readable by {@link history}. */
  private retire(i: number): void {
    if (this.counts[i] === 0) return;
    const { bins, live } = this;
    const start = i * BINS;
    for (let bin = 0; bin < BINS; bin++) live[bin]! -= bins[start + bin]!;
    this.liveCount -= this.counts[i]!;
    this.liveFailures -= this.failureCounts[i]!;
  }

  /** Empties ring slot i, which has left the window already. */
  private clear(i: number): void {
    if (this.counts[i] === 0) return;
    this.bins.fill(0, i * BINS, (i + 1) * BINS);
    this.counts[i] = 0;
    this.failureCounts[i] = 0;
    this.mins[i] = Number.POSITIVE_INFINITY;
    this.maxes[i] = -1;
  }
}
