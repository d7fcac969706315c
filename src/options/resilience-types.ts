/** The public types of the options that decide what happens when upstreams fail or fill up. */

/**
 * The `healthCheck` option: active probes of every target.
 * @public
 */
export interface HealthCheckOptions {
  /** Path probed on each target's origin (not under its base path). Default `'/health'`. */
  path?: string;
  /** ms between probes of one target, jittered by ±10 %. Default 5 000. */
  interval?: number;
  /** ms a probe may take, connection included. Default 2 000. */
  timeout?: number;
  /** Passing probes in a row that bring a down target back. Default 2. */
  healthyThreshold?: number;
  /** Failing probes in a row that take a target down. Default 2. */
  unhealthyThreshold?: number;
  /** Inclusive range of statuses that pass. Default `[200, 399]`. */
  expectStatus?: readonly [number, number];
}

/**
 * The `outlierDetection` option: passive health checking from live traffic.
 * @public
 */
export interface OutlierDetectionOptions {
  /** Failed attempts in a row (no connection, reset, timeout, or a 5xx answer) that eject a target. Default 5. */
  consecutiveFailures?: number;
  /** ms of the first ejection; the n-th lasts n times as long. Default 30 000. */
  baseEjectionTime?: number;
  /** ms cap on one ejection. Default 300 000 (or `baseEjectionTime`, if larger). */
  maxEjectionTime?: number;
  /** Never more than this percentage of the targets ejected at once (one may always be). Default 50. */
  maxEjectionPercent?: number;
}

/**
 * The options of {@link LoadBalanceOptions} that decide what happens when upstreams fail.
 * @public
 */
export interface ResilienceOptions {
  /** ms to establish a TCP connection to a target; then the next target is tried. Default 5 000. */
  connectTimeout?: number;
  /** Extra attempts on other targets after a failure, within the rules of "Failure handling". Default 2. */
  retries?: number;
  /**
   * Retries may add at most this share of the request rate, plus `minPerSecond` (default
   * 3) retries a second, over a 10 s window (Linkerd's retry budget). Default 0.2.
   */
  retryBudget?:
    | number
    | {
        /** Retries allowed as a share of the request rate, from 0 to 1. */
        ratio: number;
        /** Retries a second allowed on top of the ratio. Default 3. */
        minPerSecond?: number;
      };
  /** Request bodies up to this many bytes are kept so they can be replayed on a retry. Default 65 536. */
  retryBufferSize?: number;
  /** Upstream statuses that count as a failed attempt to retry (idempotent methods only), e.g. `[502, 503, 504]`. Default none. */
  retryOn?: readonly number[];
  /** Active health checks: `true` for the defaults, or settings. Default off. */
  healthCheck?: boolean | HealthCheckOptions;
  /** Outlier detection: on by default; `false` turns it off. */
  outlierDetection?: false | OutlierDetectionOptions;
  /**
   * Requests one target may hold at once. When every usable target is full, the request
   * waits in the `queue` if there is one, else gets a 503 with Retry-After at once.
   * Default Infinity.
   */
  maxInFlightPerTarget?: number;
  /**
   * A wait queue for requests no target can take now (every usable target full, or none
   * usable): first in, first out, at most `size` requests for at most `timeout` ms each,
   * then a 503 `ELB_QUEUE_TIMEOUT`. Requests whose attempts all failed in a way that may be
   * retried wait here too for a target to come back. Default: off.
   *
   * @example
   * ```ts
   * loadBalance({ targets, maxInFlightPerTarget: 50, queue: { size: 1000, timeout: 5_000 } });
   * ```
   */
  queue?: QueueOptions;
  /**
   * ms over which a target that joins or comes back (added, discovered, healthy again,
   * back from ejection or rest) rises from 10 % of its weight to all of it (Envoy's
   * `slow_start_window`, HAProxy's `slowstart`). Targets given to `loadBalance()` start at
   * full weight; `consistent-hash` and sticky cookies ignore it. Default 0 (off).
   */
  slowStart?: number;
  /**
   * Upstream back-pressure: a target answering 503 or 429 with `Retry-After` rests, and
   * gets no new request for that long, at most `max` ms (the last usable target never
   * rests). `false` turns it off. Default `{ max: 60_000 }`.
   */
  retryAfter?: false | RetryAfterOptions;
  /**
   * Hedged requests: when a bodiless GET, HEAD or OPTIONS has no response head `delay` ms
   * after it was sent, the same request goes to another usable target too; the first head
   * to arrive is forwarded and every other attempt is cut at once. Hedges take the retry
   * budget, so a slow fleet cannot double its load. Default: off.
   *
   * @example
   * ```ts
   * loadBalance({ targets, hedge: { delay: 'p95', max: 1 } });
   * ```
   */
  hedge?: false | HedgeOptions;
}

/**
 * The `hedge` option. Only these two keys are accepted: nothing widens hedging beyond
 * GET, HEAD and OPTIONS requests without a body.
 * @public
 */
export interface HedgeOptions {
  /**
   * How long the first attempt may wait for its response head before a hedge is sent: ms,
   * or `'p90'`, `'p95'`, `'p99'` of the last minute's attempt latency over all targets
   * (never below 1 ms; no hedging until 50 attempts ended in that minute). Default `'p95'`.
   */
  delay?: number | 'p90' | 'p95' | 'p99';
  /** Extra attempts at most, each `delay` ms after the one before, a whole number from 1 to 3. Default 1. */
  max?: number;
}

/**
 * The `queue` option.
 * @public
 */
export interface QueueOptions {
  /** Requests that may wait at once, a whole number ≥ 1; one more gets a 503 `ELB_SATURATED` at once. */
  size: number;
  /** ms a request may wait, then a 503 `ELB_QUEUE_TIMEOUT`. */
  timeout: number;
}

/**
 * The `retryAfter` option.
 * @public
 */
export interface RetryAfterOptions {
  /** The longest rest a `Retry-After` header can ask for, in ms. Default 60 000. */
  max?: number;
}
