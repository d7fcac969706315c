/**
 * The public option types, as users write them; what they turn into once checked is
 * in config.ts. The types of dnsTargets() are declared next to it and re-exported here.
 */
import type { Request } from 'express';
import type { AxiosInstance, CreateAxiosDefaults } from 'axios';
import type { HashKey, Strategy, StrategyFunction, StrategyName } from '../balancing/strategies/types';
import type { DnsTargets } from './dns-targets';

export type { DnsResolver, DnsTargets, DnsTargetsOptions } from './dns-targets';

/**
 * The `sticky` option: session affinity by cookie, on top of any strategy.
 *
 * The first response sets a cookie holding an opaque id of the target that served it
 * (an HMAC of its URL, never the URL itself); later requests carrying it go to that
 * target while it is still one of the targets. A missing, stale or forged cookie just
 * means a normal pick and a new cookie.
 *
 * @example
 * loadBalance({ targets, sticky: { cookie: 'lb_target' } });
 * @public
 */
export interface StickyOptions {
  /** Name of the cookie. An RFC 6265 token. Default `'lb_target'`. */
  cookie?: string;
  /**
   * Key of the HMAC that makes the cookie's target id. Default: random per balancer,
   * so cookies stop matching after a restart. Give every process the same secret
   * (16+ characters) when several of them serve the same clients, so a cookie one
   * process set is honoured by the others.
   */
  secret?: string;
}

/**
 * Options of {@link loadBalance}. Everything but `targets` is optional.
 * @public
 */
export interface LoadBalanceOptions extends ResilienceOptions {
  /**
   * The upstream servers: at least one, no duplicates. Or {@link dnsTargets}`(name, options)`,
   * to find them in DNS and follow its changes.
   */
  targets: readonly TargetInput[] | DnsTargets;
  /**
   * How the next target is chosen: `'round-robin'` (default, smooth weighted),
   * `'random'`, `'least-connections'`, `'power-of-two'`, `'consistent-hash'`,
   * `'peak-ewma'`, a function `(targets, req) => target`, or an object implementing
   * {@link Strategy}.
   */
  strategy?: StrategyName | StrategyFunction | Strategy;
  /**
   * For `strategy: 'consistent-hash'` only: the key requests are hashed by. Default:
   * the client IP (`req.ip`, which honours Express's `trust proxy`). A request whose
   * key is `undefined` or `''` is balanced by round robin.
   */
  hashKey?: HashKey;
  /** Send each client back to the target that served it first, by cookie. Off by default. */
  sticky?: StickyOptions;
  /**
   * Milliseconds over which a target's response-time estimate (peak-EWMA) decays back
   * after a slow response. Used by `'peak-ewma'`, shown by `lb.targets()`. Default 10 000.
   */
  ewmaWindow?: number;
  /**
   * Milliseconds to wait for the upstream's response headers, counted from when the
   * request is sent and restarted while its body is still flowing. Then 504. Default 30 000.
   */
  timeout?: number;
  /**
   * Milliseconds an idle pooled connection to an upstream is kept open for reuse.
   * Keep it below the upstreams' own idle timeout (Node's default is 5 000) so the
   * balancer, not the upstream, closes idle connections. Default 4 000.
   */
  keepAliveTimeout?: number;
  /** Send the client's `Host` header upstream instead of the target's host. Default false. */
  preserveHost?: boolean;
  /**
   * Largest request body, in bytes, that is forwarded. A `Content-Length` above it is
   * answered 413 ({@link PayloadTooLargeError}) before the body is read or an upstream
   * contacted; a chunked body that grows past it is cut, its upstream request aborted,
   * and 413 sent if no response has started. A body an Express parser already read is
   * checked once re-serialised. Default Infinity (bodies are streamed, not limited).
   * @example
   * ```ts
   * app.use('/api', loadBalance({ targets, maxBodySize: 10 * 1024 * 1024 }));
   * ```
   */
  maxBodySize?: number;
  /**
   * What the upstream learns about the client through X-Forwarded-For, -Proto and -Host.
   *
   * - unset (default): follow the app's `trust proxy` setting, as `req.ips` and
   *   `req.protocol` do. The incoming X-Forwarded-For list is kept only as far as the
   *   hops that reported it are trusted, then the socket peer is appended; -Proto and
   *   -Host are taken from the client only when the peer is trusted. With `trust proxy`
   *   off (Express's default) the upstream gets just the peer address, the scheme of
   *   the client connection and its `Host`, and any other forwarding header the client
   *   sent (X-Forwarded-*, Forwarded, X-Real-IP) is dropped.
   * - `'append'`: keep the whole incoming X-Forwarded-For list and append the peer
   *   (nginx's `$proxy_add_x_forwarded_for`); -Proto and -Host describe this hop.
   *   Only safe when every client reaches the balancer through proxies you run.
   * - `'replace'`: ignore whatever the client sent; X-Forwarded-For is the peer alone.
   * - `false`: send no forwarding headers at all, and drop the client's.
   *
   * The peer address always comes from the socket, never from a header.
   * @example
   * ```ts
   * app.set('trust proxy', 'loopback'); // an nginx on the same machine
   * app.use('/api', loadBalance({ targets }));
   * ```
   */
  xForwarded?: 'append' | 'replace' | false;
  /**
   * An axios instance, or an axios config, that the balancer's own instance
   * (`lb.axios`) starts from: default headers, `httpAgent`/`httpsAgent`, and an
   * instance's request interceptors (copied once, here; the instance itself is not
   * changed and keeps working for the app's own calls). Its response interceptors are
   * not copied: add those on `lb.axios`, returning the response with its stream. Settings that would change what is
   * forwarded (`adapter`, `responseType`, `maxRedirects`, `decompress`,
   * `validateStatus`, `transformRequest`, `transformResponse`, `maxContentLength`,
   * `maxBodyLength`, `timeout`, `proxy`, `baseURL`, `params`, `socketPath`, `auth`)
   * must be left at axios's default: otherwise a `TypeError` names `axios.<setting>`.
   * Agents given here are used as they are (`keepAliveTimeout` only shapes the agents
   * the balancer makes itself) and never destroyed by `lb.close()`.
   *
   * @example
   * ```ts
   * const signed = axios.create({ httpAgent: new http.Agent({ keepAlive: true, maxSockets: 50 }) });
   * signed.interceptors.request.use((config) => {
   *   config.headers.set('x-signature', sign(config.method, config.url));
   *   return config;
   * });
   * app.use('/api', loadBalance({ targets, axios: signed }));
   * ```
   */
  axios?: AxiosOption;
  /**
   * Rewrites the path (with its query) the upstream gets, relative to the mount point
   * and before the target's base path is prepended. Rules `{ regex: replacement }` are
   * compiled once and tried in order; the first match is applied (`$1` works) and the
   * rest are skipped, as in http-proxy-middleware. A function `(path, req) => string`
   * must be synchronous; if it throws, its error goes to `next(err)` (500 unless it
   * carries a status), and so does a TypeError when it returns no string.
   *
   * The rewritten path is sanitised like the client's, so a rewrite can never pick the
   * host: `//evil/x` and `http://evil/x` are sent to the chosen target as `/evil/x` and
   * `/x`, and a path climbing above the root answers 400.
   *
   * @example
   * ```ts
   * loadBalance({ targets, pathRewrite: { '^/v1/': '/', '^/users/(\\d+)': '/u?id=$1' } });
   * loadBalance({ targets, pathRewrite: (path, req) => `/${req.hostname}${path}` });
   * ```
   */
  pathRewrite?: PathRewrite;
}

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

/**
 * One upstream server: an absolute `http:` or `https:` URL, optionally with a base
 * path (`http://10.0.0.5:3000/v1`), or an object with that URL and a weight.
 * @public
 */
export type TargetInput =
  | string
  | {
      /** The target's absolute `http:` or `https:` URL, optionally with a base path. */
      url: string;
      /** Its share of requests relative to the others, a positive number. Default 1. */
      weight?: number;
      /**
       * Its priority level, a whole number; lower is preferred. Traffic spills to the next
       * level only as targets of this one become unusable (Envoy's priority load). Default 0.
       */
      priority?: number;
      /** nginx's `backup`: the same as `priority: 1`. Not together with `priority`. */
      backup?: boolean;
    };

/**
 * The `axios` option: an axios instance, or the config of one, that the balancer's own
 * instance starts from.
 * @public
 */
export type AxiosOption = AxiosInstance | CreateAxiosDefaults;

/**
 * The `pathRewrite` option, as http-proxy-middleware users know it: rules
 * `{ '^/old': '/new' }` whose keys are regular expressions, or a function.
 * @public
 */
export type PathRewrite = Readonly<Record<string, string>> | PathRewriteFunction;

/**
 * Rewrites the path and query (relative to the mount point, already sanitised) before
 * the target's base path is prepended. Synchronous; what it returns is sanitised again.
 * @public
 */
export type PathRewriteFunction = (path: string, req: Request) => string;

/**
 * The argument of `lb.close()`.
 * @public
 */
export interface CloseOptions {
  /**
   * ms that requests in flight may take to finish, and open WebSockets stay open, before
   * what is left is cut short: positive, at most Node's timer limit. Without it, `close()`
   * frees everything at once.
   */
  drain?: number;
}
