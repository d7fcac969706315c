/** What strategies, listeners and `lb.targets()`/`lb.stats()` see of a target. */

/**
 * The read-only view of an upstream that strategies and listeners receive.
 * Counters are live: they are the pool's own, not copies.
 * @public
 */
export interface Target {
  /** Normalised URL: origin plus base path, without a trailing slash. */
  readonly url: string;
  /** Relative weight (default 1). */
  readonly weight: number;
  /**
   * The weight to balance on now: below {@link weight} while the target is in slow
   * start (`slowStart` option), else the same.
   */
  readonly effectiveWeight: number;
  /** Requests sent to this target whose response has not finished yet. */
  readonly inFlight: number;
  /** Requests sent to this target so far (each attempt counts). */
  readonly requests: number;
  /** Attempts that failed: unreachable, reset, timed out, broken off, or answered with a `retryOn` status. */
  readonly failures: number;
}

/**
 * What `lb.targets()` and `lb.stats()` both say about a target, at one moment.
 * @public
 */
export interface TargetStatus extends Target {
  /** Its priority level: 0 is preferred, then 1 (`backup: true`), and so on. */
  readonly priority: number;
  /** False while active health checks find the target down. */
  readonly healthy: boolean;
  /** True while outlier detection keeps the target out of rotation. */
  readonly ejected: boolean;
  /** True while it rests after answering 503 or 429 with `Retry-After`. */
  readonly resting: boolean;
}

/**
 * A point-in-time copy of a target's state, as returned by `lb.targets()`.
 * @public
 */
export interface TargetSnapshot extends TargetStatus {
  /**
   * Peak-EWMA of this target's response time in ms, decayed to now (0 before its first
   * response). A failed attempt counts as `timeout` ms. Kept for every strategy;
   * `'peak-ewma'` balances on it.
   */
  readonly ewmaMs: number;
}
