import { strategyFactory } from './strategies';
import type { Strategy, StrategyFactory, StrategyFunction, StrategyName } from './strategies/types';

/**
 * One upstream server: an absolute `http:` or `https:` URL, optionally with a base
 * path (`http://10.0.0.5:3000/v1`), or an object with that URL and a weight.
 * @public
 */
export type TargetInput = string | { url: string; weight?: number };

/**
 * Options of {@link loadBalance}. Everything but `targets` is optional.
 * @public
 */
export interface LoadBalanceOptions {
  /** The upstream servers. At least one; no duplicates. */
  targets: readonly TargetInput[];
  /**
   * How the next target is chosen: `'round-robin'` (default, smooth weighted),
   * `'random'` (weighted), a function `(targets, req) => target`, or an object
   * implementing {@link Strategy}.
   */
  strategy?: StrategyName | StrategyFunction | Strategy;
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
}

/** A validated target, before the pool turns it into live state. */
export interface TargetSpec {
  /** Normalised URL: origin plus base path without a trailing slash. The target's identity. */
  readonly url: string;
  readonly protocol: 'http:' | 'https:';
  /** Host name as `http.request` wants it (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** Value of the `Host` header for this target (port omitted when it is the default one). */
  readonly hostHeader: string;
  /** Path prefix without a trailing slash; `''` when the target has none. */
  readonly basePath: string;
  readonly weight: number;
}

/** {@link LoadBalanceOptions.xForwarded} after validation; `'trust'` stands for "unset". */
export type XForwardedMode = 'trust' | 'append' | 'replace' | false;

/** The internal, validated, frozen configuration. Nothing downstream re-checks it. */
export interface BalancerConfig {
  readonly targets: readonly TargetSpec[];
  readonly strategy: StrategyFactory;
  readonly timeout: number;
  readonly keepAliveTimeout: number;
  readonly preserveHost: boolean;
  /** `'trust'` when the option is unset: follow the app's `trust proxy` setting. */
  readonly xForwarded: XForwardedMode;
}

const KNOWN_OPTIONS: ReadonlySet<string> = new Set([
  'targets',
  'strategy',
  'timeout',
  'keepAliveTimeout',
  'preserveHost',
  'xForwarded',
]);

const DEFAULTS = {
  strategy: 'round-robin',
  timeout: 30_000,
  keepAliveTimeout: 4_000,
  preserveHost: false,
  xForwarded: 'trust',
} as const;

function fail(option: string, expected: string, got: unknown): never {
  throw new TypeError(`express-load-balance: option "${option}" ${expected}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

// Node's timers (setTimeout, socket.setTimeout) treat anything above 2^31 - 1 ms as
// 1 ms, with only a warning: a timeout of 30 days would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

function positiveNumber(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(option, 'must be a positive, finite number', value);
  }
  return value;
}

function milliseconds(option: string, value: unknown, fallback: number): number {
  const ms = positiveNumber(option, value, fallback);
  if (ms > MAX_TIMER_MS) fail(option, `must be at most ${MAX_TIMER_MS} ms (Node's timer limit)`, value);
  return ms;
}

/**
 * Reads only the caller's own properties: a value inherited from the prototype chain
 * (a polluted Object.prototype, say) must not become a setting.
 */
function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Parses one target; throws a TypeError naming `targets[i]` when it is unusable. */
export function parseTarget(input: unknown, option: string): TargetSpec {
  let raw: unknown = input;
  let weight = 1;
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const entry = input as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (key !== 'url' && key !== 'weight') fail(`${option}.${key}`, 'is not a target option (expected url, weight)', entry[key]);
    }
    raw = own(entry, 'url');
    weight = positiveNumber(`${option}.weight`, own(entry, 'weight'), 1);
    option = `${option}.url`;
  }
  if (typeof raw !== 'string') fail(option, 'must be an absolute http(s) URL string or { url, weight }', raw);

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(option, 'must be an absolute http(s) URL', raw);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(option, 'must use http: or https:', raw);
  if (url.port === '0') fail(option, 'must not use port 0', raw);
  if (url.username !== '' || url.password !== '') fail(option, 'must not carry credentials', raw);
  // `new URL` drops an empty "?" or "#", so look at the raw text as well.
  if (url.search !== '' || raw.includes('?')) fail(option, 'must not have a query string', raw);
  if (url.hash !== '' || raw.includes('#')) fail(option, 'must not have a fragment', raw);

  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  // Upstream paths are basePath + "/…"; one starting with "//" would read as a host.
  if (basePath.startsWith('//')) fail(option, 'must not have a path starting with "//"', raw);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const protocol = url.protocol;
  return Object.freeze({
    url: `${url.origin}${basePath}`,
    protocol,
    hostname,
    port: url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port),
    hostHeader: url.host,
    basePath,
    weight,
  });
}

export function parseTargets(input: unknown, option = 'targets'): TargetSpec[] {
  if (!Array.isArray(input) || input.length === 0) {
    fail(option, 'must be a non-empty array of target URLs', input);
  }
  const seen = new Set<string>();
  return input.map((entry, i) => {
    const spec = parseTarget(entry, `${option}[${i}]`);
    if (seen.has(spec.url)) fail(`${option}[${i}]`, `duplicates another target (${spec.url})`, entry);
    seen.add(spec.url);
    return spec;
  });
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
  const strategy = own(opts, 'strategy');
  const preserveHost = own(opts, 'preserveHost');
  if (preserveHost !== undefined && typeof preserveHost !== 'boolean') fail('preserveHost', 'must be a boolean', preserveHost);
  const xForwarded = own(opts, 'xForwarded');
  if (xForwarded !== undefined && xForwarded !== 'append' && xForwarded !== 'replace' && xForwarded !== false) {
    fail('xForwarded', "must be 'append', 'replace' or false (unset: follow the app's trust proxy setting)", xForwarded);
  }

  return Object.freeze({
    targets: Object.freeze(parseTargets(own(opts, 'targets'))),
    strategy: strategyFactory(strategy === undefined ? DEFAULTS.strategy : strategy),
    timeout: milliseconds('timeout', own(opts, 'timeout'), DEFAULTS.timeout),
    keepAliveTimeout: milliseconds('keepAliveTimeout', own(opts, 'keepAliveTimeout'), DEFAULTS.keepAliveTimeout),
    preserveHost: preserveHost ?? DEFAULTS.preserveHost,
    xForwarded: xForwarded ?? DEFAULTS.xForwarded,
  });
}
