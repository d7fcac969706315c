import type { FailurePhase } from '../forwarding/transport';

/**
 * RFC 9110 §9.2.2 idempotent methods: sending one twice has the effect of sending it
 * once, so a retry after the request may have reached the application is safe.
 * POST and PATCH are not, and are never retried once they may have been seen.
 */
const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);

/** Why an attempt failed, as far as retrying is concerned. */
export type RetryableFailure =
  | { readonly phase: FailurePhase }
  /** The upstream answered with a status that `retryOn` lists. */
  | { readonly phase: 'status'; readonly status: number };

/**
 * nginx's proxy_next_upstream and Envoy's retry_on, made strict: a failure that
 * certainly never reached the application (no connection was made) may be retried
 * for any method; anything after the request may have been seen only for idempotent
 * methods.
 *
 * A reset on a reused keep-alive connection before any response byte is most often the
 * keep-alive race (the upstream closed the idle connection as the request went out),
 * but an upstream that read the request and then crashed resets the connection in
 * exactly the same way: the two cannot be told apart, so only idempotent methods are
 * sent again. Go's net/http and nginx draw the same line; the chaos tests found POSTs
 * delivered twice when it was drawn elsewhere.
 */
export function mayRetry(method: string, failure: RetryableFailure): boolean {
  if (failure.phase === 'connect' || failure.phase === 'connect-timeout') return true;
  return IDEMPOTENT.has(method);
}

/** What a retry budget needs: a clock, injected so tests control time. */
export interface BudgetClock {
  now(): number;
}

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
    private readonly clock: BudgetClock = { now: () => performance.now() },
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
