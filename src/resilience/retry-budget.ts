import type { Clock } from '../clock';

/**
 * Linkerd's retry budget: over a sliding window, retries may add at most `ratio` of
 * the requests, plus `minPerSecond` retries a second so a quiet service can still
 * retry. When every upstream fails, this caps attempts per request near 1 + ratio
 * instead of 1 + retries (no retry storm). The window is ten one-second buckets,
 * rotated lazily: no timer.
 */
export class RetryBudget {
  private static readonly BUCKETS = 10;
  private static readonly BUCKET_MS = 1_000;
  private readonly requests = new Float64Array(RetryBudget.BUCKETS);
  private readonly retries = new Float64Array(RetryBudget.BUCKETS);
  private current = 0;
  private currentStart: number;

  constructor(
    private readonly ratio: number,
    private readonly minPerSecond: number,
    private readonly clock: Pick<Clock, 'now'>,
  ) {
    this.currentStart = clock.now();
  }

  /** Counts a client request (not its retries). */
  recordRequest(): void {
    this.rotate();
    this.requests[this.current]! += 1;
  }

  /** Takes one retry from the budget if there is one left; false means "do not retry". */
  tryRetry(): boolean {
    this.rotate();
    let requests = 0;
    let retries = 0;
    for (let i = 0; i < RetryBudget.BUCKETS; i++) {
      requests += this.requests[i]!;
      retries += this.retries[i]!;
    }
    const allowed = this.ratio * requests + this.minPerSecond * RetryBudget.BUCKETS;
    if (retries + 1 > allowed) return false;
    this.retries[this.current]! += 1;
    return true;
  }

  private rotate(): void {
    const now = this.clock.now();
    let elapsed = Math.floor((now - this.currentStart) / RetryBudget.BUCKET_MS);
    if (elapsed <= 0) return;
    if (elapsed > RetryBudget.BUCKETS) elapsed = RetryBudget.BUCKETS;
    for (let i = 0; i < elapsed; i++) {
      this.current = (this.current + 1) % RetryBudget.BUCKETS;
      this.requests[this.current] = 0;
      this.retries[this.current] = 0;
    }
    this.currentStart += Math.floor((now - this.currentStart) / RetryBudget.BUCKET_MS) * RetryBudget.BUCKET_MS;
  }
}
