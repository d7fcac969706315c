/** Where an attempt failed: decides whether it may be retried. */
export type FailurePhase =
  /** Nothing reached the upstream application: the connection was never made. */
  | 'connect'
  /** As 'connect', because no connection was made within `connectTimeout`. */
  | 'connect-timeout'
  /**
   * A pooled connection turned out closed before any response byte: usually the
   * keep-alive race, but indistinguishable from an upstream that read the request and died.
   */
  | 'reused-socket'
  /** The request may have reached the application. */
  | 'sent'
  /** No response headers within `timeout`. */
  | 'timeout';

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
