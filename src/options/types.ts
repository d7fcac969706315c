/**
 * The public option types, as users write them; what they turn into once checked is
 * in config.ts. The types of dnsTargets() are declared next to it and re-exported here.
 */
import type { Request } from 'express';
import type { AxiosInstance, CreateAxiosDefaults } from 'axios';
import type { HashKey, Strategy, StrategyFunction, StrategyName } from '../balancing/strategies/types';
import type { DnsTargets } from './dns-targets';
import type { MirrorOptions } from './mirror-types';
import type { ResilienceOptions } from './resilience-types';
import type { ResponseRewriteOptions } from './response-rewrite-types';

export type { DnsResolver, DnsTargets, DnsTargetsOptions } from './dns-targets';
export type { MirrorOptions } from './mirror-types';
export type {
  HealthCheckOptions,
  HedgeOptions,
  OutlierDetectionOptions,
  QueueOptions,
  ResilienceOptions,
  RetryAfterOptions,
} from './resilience-types';
export type { CookieRewrite, ResponseRewriteOptions } from './response-rewrite-types';

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
export interface LoadBalanceOptions extends ResilienceOptions, ResponseRewriteOptions {
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
   * and 413 sent if no response has started. The 413 goes out at once, before the rest
   * of the body is read, and closes the connection. A body an Express parser already
   * read is checked once re-serialised. Default Infinity (bodies are streamed, not limited).
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
  /**
   * What happens to a percent-encoded slash (`%2F`) or backslash (`%5C`), any case, in
   * the request path (the query is never touched), as Envoy's
   * `path_with_escaped_slashes_action`:
   *
   * - `'keep'` (default): sent as they are.
   * - `'decode'`: `%2F` becomes `/` before dot-segments are resolved, as nginx does;
   *   `%5C` decodes to a backslash, which is sent as `%5C` like any raw backslash.
   * - `'reject'`: a path holding `%2F`, `%5C` or a raw backslash (which would be sent as
   *   `%5C`) is answered 400 ({@link BadRequestError}).
   *
   * In every mode, a path that would climb above the target's base path for an upstream
   * that decodes it once and reads `\` as `/` (`/..%2fadmin`, `/%2e%2e%5cadmin`) is
   * answered 400. Applies to WebSocket upgrades and to what `pathRewrite` returns too.
   * @example
   * ```ts
   * // /api/a%2Fb reaches the upstream as /v1/a/b
   * app.use('/api', loadBalance({ targets: ['http://10.0.0.5:3000/v1'], encodedSlashes: 'decode' }));
   * ```
   */
  encodedSlashes?: 'keep' | 'decode' | 'reject';
  /**
   * Also send a sampled share of requests to other servers, and throw their answers away
   * (traffic mirroring, or shadowing): see {@link MirrorOptions}. Off by default.
   * @example
   * ```ts
   * loadBalance({ targets, mirror: { targets: ['http://127.0.0.1:4000'], sample: 0.1 } });
   * ```
   */
  mirror?: MirrorOptions;
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

/**
 * The argument of `lb.statusHandler()`.
 * @public
 */
export interface StatusPageOptions {
  /**
   * Seconds between reloads of the HTML page, by a `<meta http-equiv="refresh">` (no
   * script): a whole number of at least 1, or `false` (or `0`) for a page that does not
   * reload. Default 5. The JSON answer is not affected.
   */
  refresh?: number | false;
}
