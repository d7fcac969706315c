/**
 * Finagle's peak-EWMA estimate of a target's response time (PeakEwma in finagle-core's
 * load balancer), in ms. A response slower than the current estimate replaces it at
 * once, so a target that turns slow loses traffic after one response; a faster one pulls
 * it down by the weight 1 - e^(-Δt/window), so the estimate recovers over about one
 * `window`. Read, it decays to the time asked as if time passing were a stream of
 * zero-latency observations (Finagle reads it the same way): a pure read, so how often
 * strategies look does not change it.
 */
export class PeakEwma {
  /** The raw estimate as of {@link observedAt}, not decayed. */
  private peakMs = 0;
  /** Clock reading of the last observation; NaN before the first. */
  private observedAt = Number.NaN;

  constructor(private readonly window: number) {}

  /** Whether a response time was ever observed. */
  get measured(): boolean {
    return !Number.isNaN(this.observedAt);
  }

  observe(durationMs: number, now: number): void {
    if (!this.measured) {
      this.peakMs = durationMs;
    } else {
      const w = Math.exp(-Math.max(now - this.observedAt, 0) / this.window);
      const decayed = this.peakMs * w;
      this.peakMs = durationMs > decayed ? durationMs : decayed + durationMs * (1 - w);
    }
    this.observedAt = now;
  }

  /** The estimate decayed to `now`; 0 before the first observation. */
  at(now: number): number {
    if (!this.measured) return 0;
    return this.peakMs * Math.exp(-Math.max(now - this.observedAt, 0) / this.window);
  }
}
