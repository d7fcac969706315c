import type { Request } from 'express';
import { isDnsTargets, type DnsTargets } from './dns-source';
import { parseAxiosOption, type AxiosBase, type AxiosOption } from '../forwarding/axios-instance';
import { parsePathRewrite, type PathRewrite, type PathRewriteFunction } from './path-rewrite';
import type { BalancerConfig, StickyConfig } from './config';
import { parseResilience, RESILIENCE_KEYS, type ResilienceOptions } from './resilience';
import { strategyFactory } from '../balancing/strategies';
import { parseTargets, type TargetInput, type TargetSpec } from './targets';
import { fail, milliseconds, own, positiveNumber, wholeNumber } from './validate';
import type { HashKey, Strategy, StrategyFactory, StrategyFunction, StrategyName } from '../balancing/strategies/types';

export { parseTarget, parseTargets, type TargetInput, type TargetSpec } from './targets';

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

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'targets',
  'strategy',
  'hashKey',
  'sticky',
  'ewmaWindow',
  'timeout',
  'keepAliveTimeout',
  'preserveHost',
  'maxBodySize',
  'xForwarded',
  'axios',
  'pathRewrite',
  ...RESILIENCE_KEYS,
]);

const DEFAULTS = {
  strategy: 'round-robin',
  stickyCookie: 'lb_target',
  ewmaWindow: 10_000,
  timeout: 30_000,
  keepAliveTimeout: 4_000,
  preserveHost: false,
  xForwarded: 'trust',
} as const;

/** RFC 6265 §4.1.1: a cookie name is an RFC 2616 token. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * The default `hashKey`: the client address as Express sees it (honours `trust proxy`).
 * A WebSocket upgrade reaches `lb.upgrade` as Node's plain request, without `req.ip`:
 * its socket peer is the address then.
 */
function clientIp(req: Request): string | undefined {
  return req.ip ?? req.socket?.remoteAddress;
}

/**
 * Validates user options once, at construction, into a frozen {@link BalancerConfig}
 * with every default filled in. Throws a `TypeError` naming the faulty option.
 */
export function normalizeOptions(options: unknown): BalancerConfig {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    fail('options', 'must be an object or (targets, strategy)', options);
  }
  const opts = options as Record<string, unknown>;
  for (const key of Object.keys(opts)) {
    if (!KNOWN_OPTIONS.has(key)) {
      throw new TypeError(
        `express-load-balance: unknown option "${key}" (known options: ${[...KNOWN_OPTIONS].join(', ')})`,
      );
    }
  }
  // Only `undefined` means "use the default": a null is a mistake, reported like any other.
  const strategyOption = own(opts, 'strategy');
  const strategy = strategyOption === undefined ? DEFAULTS.strategy : strategyOption;
  const preserveHost = own(opts, 'preserveHost');
  if (preserveHost !== undefined && typeof preserveHost !== 'boolean') fail('preserveHost', 'must be a boolean', preserveHost);
  const xForwarded = own(opts, 'xForwarded');
  if (xForwarded !== undefined && xForwarded !== 'append' && xForwarded !== 'replace' && xForwarded !== false) {
    fail('xForwarded', "must be 'append', 'replace' or false (unset: follow the app's trust proxy setting)", xForwarded);
  }
  const hashKey = own(opts, 'hashKey');
  if (hashKey !== undefined) {
    if (typeof hashKey !== 'function') fail('hashKey', 'must be a function (req) => string | undefined', hashKey);
    if (strategy !== 'consistent-hash') fail('hashKey', 'only applies to strategy "consistent-hash"', strategy);
  }

  const targets = own(opts, 'targets');
  const discovery = isDnsTargets(targets) ? targets : undefined;

  return Object.freeze({
    targets: Object.freeze(discovery === undefined ? parseTargets(targets) : []),
    discovery,
    strategy: strategyFactory(strategy),
    hashKey: (hashKey as HashKey | undefined) ?? clientIp,
    sticky: parseSticky(own(opts, 'sticky')),
    ewmaWindow: positiveNumber('ewmaWindow', own(opts, 'ewmaWindow'), DEFAULTS.ewmaWindow),
    timeout: milliseconds('timeout', own(opts, 'timeout'), DEFAULTS.timeout),
    keepAliveTimeout: milliseconds('keepAliveTimeout', own(opts, 'keepAliveTimeout'), DEFAULTS.keepAliveTimeout),
    preserveHost: preserveHost ?? DEFAULTS.preserveHost,
    maxBodySize: wholeNumber('maxBodySize', own(opts, 'maxBodySize'), Infinity, 0, true),
    xForwarded: xForwarded ?? DEFAULTS.xForwarded,
    resilience: parseResilience(opts),
    axios: parseAxiosOption(own(opts, 'axios')),
    pathRewrite: parsePathRewrite(own(opts, 'pathRewrite')),
  });
}

function parseSticky(input: unknown): StickyConfig | undefined {
  if (input === undefined) return undefined;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    fail('sticky', 'must be an object { cookie?, secret? }', input);
  }
  const sticky = input as Record<string, unknown>;
  for (const key of Object.keys(sticky)) {
    if (key !== 'cookie' && key !== 'secret') fail(`sticky.${key}`, 'is not a sticky option (expected cookie, secret)', sticky[key]);
  }
  const cookieOption = own(sticky, 'cookie');
  const cookie = cookieOption === undefined ? DEFAULTS.stickyCookie : cookieOption;
  if (typeof cookie !== 'string' || !COOKIE_NAME.test(cookie)) fail('sticky.cookie', 'must be a cookie name (an RFC 6265 token)', cookie);
  const secret = own(sticky, 'secret');
  if (secret !== undefined && typeof secret !== 'string') fail('sticky.secret', 'must be a string', secret);
  if (typeof secret === 'string' && secret.length < 16) {
    // Never echo a secret into an error message (and so into logs).
    throw new TypeError(`express-load-balance: option "sticky.secret" must be at least 16 characters, got ${secret.length}`);
  }
  return Object.freeze({ cookie, secret: secret as string | undefined });
}
