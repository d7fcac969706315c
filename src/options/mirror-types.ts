/** The public type of the `mirror` option: traffic mirroring (shadowing). */

/**
 * The `mirror` option: a sampled share of requests is also sent to other servers, as
 * Envoy's `request_mirror_policies` and nginx's `mirror` do, to try a new version on
 * real traffic. The mirror's answer is read and thrown away; the client's answer, status
 * and timing never depend on it (it is neither awaited nor retried), and its failures
 * show only in the `mirror` event, `lb.stats().mirror` and the Prometheus metrics.
 *
 * Each copy has the primary request's method, path (after `pathRewrite`, joined to the
 * mirror target's base path), headers and body, with `Host` set to the mirror target's
 * followed by `-shadow`, so the mirror's logs tell copies apart. Headers added by
 * request interceptors on `lb.axios` are not copied.
 *
 * @example
 * ```ts
 * loadBalance({ targets, mirror: { targets: ['http://10.0.0.9:3000'], sample: 0.1 } });
 * ```
 * @public
 */
export interface MirrorOptions {
  /** Where copies go, one after the other (round robin): absolute `http:` or `https:` URLs, optionally with a base path. */
  targets: readonly string[];
  /** Share of requests copied, from 0 to 1, drawn at random per request. Default 1 (every request). */
  sample?: number;
  /**
   * Largest body, in bytes, that is copied. The body is teed to the mirror as the client
   * uploads it, without slowing the upload; a request that declares a larger
   * `Content-Length` is not copied (counted as skipped), and a chunked body that grows
   * past it aborts the copy, never the primary request. Default 1 048 576 (1 MiB).
   */
  maxBodySize?: number;
  /**
   * Most copies in flight at once; when that many are open, a request is not copied
   * (counted as skipped). With the balancer's `timeout` as every copy's deadline, this
   * bounds what a hanging or slow mirror can hold. Default 100.
   */
  maxInFlight?: number;
}
