/**
 * dnsTargets(): a DNS name as the `targets` option, checked once here; the lookups
 * themselves are made by src/discovery for each balancer it is given to.
 */
import type { SrvRecord } from 'node:dns';
import { Resolver } from 'node:dns/promises';
import { DEFAULTS } from './defaults';
import { MESSAGES } from './messages';
import { parseTarget } from './targets';
import { fail, milliseconds, optionObject, own } from './validate';

/**
 * Options of {@link dnsTargets}.
 * @public
 */
export interface DnsTargetsOptions {
  /** ms between lookups, counted from the end of one to the start of the next. Default 10 000. */
  interval?: number;
  /** Port of the targets. Required for an A/AAAA name; not allowed for SRV, whose records carry ports. */
  port?: number;
  /** Scheme used to reach the targets. Default `'http'`. */
  protocol?: 'http' | 'https';
  /** Base path of every target, as in a target URL (`'/v1'`). Default none. */
  basePath?: string;
  /** DNS servers to ask, `'ip'` or `'ip:port'` (`'[::1]:53'` for IPv6). Default: the system's. */
  servers?: readonly string[];
  /** Makes the lookups instead of a `Resolver` of `node:dns/promises`. Not with `servers`. */
  resolver?: DnsResolver;
}

/**
 * The lookups {@link dnsTargets} makes. A `Resolver` from `node:dns/promises` is one;
 * pass your own to control timeouts, or to answer from something other than DNS in a
 * test.
 * @public
 */
export interface DnsResolver {
  /** SRV records of `hostname`, as `dns.promises.Resolver#resolveSrv` returns them. */
  resolveSrv(hostname: string): Promise<SrvRecord[]>;
  /** IPv4 addresses of `hostname`. */
  resolve4(hostname: string): Promise<string[]>;
  /** IPv6 addresses of `hostname`. */
  resolve6(hostname: string): Promise<string[]>;
}

/**
 * A discovery source: what {@link dnsTargets} returns, to pass as the `targets` option.
 * An immutable description; each balancer it is given to runs its own lookups.
 * Only `dnsTargets()` makes one: a look-alike object is refused.
 * @public
 */
export interface DnsTargets {
  /** Always `'dns'`: what kind of target source this is. */
  readonly kind: 'dns';
  /** The name looked up, without a trailing dot. */
  readonly name: string;
  /** `'SRV'` for a `_service._proto.name`, else `'A/AAAA'`. */
  readonly record: 'SRV' | 'A/AAAA';
  /** ms between two lookups (counted from the end of one to the start of the next). */
  readonly interval: number;
  /** Port of every target (A/AAAA only; SRV records carry their own). */
  readonly port: number | undefined;
  /** Scheme of the targets found. */
  readonly protocol: 'http' | 'https';
  /** Base path of every target, `''` for none. */
  readonly basePath: string;
  /** DNS servers asked, `'ip'` or `'ip:port'`; undefined for the system's. */
  readonly servers: readonly string[] | undefined;
  /** The resolver given in the options, if any. */
  readonly resolver: DnsResolver | undefined;
}

// Symbol.for, like the errors' brand: a source made by another copy of the package
// (the CommonJS build next to the ESM one) is still recognised.
const BRAND = Symbol.for('express-load-balance.dns-targets');

/** True only for what dnsTargets() returned. */
export function isDnsTargets(value: unknown): value is DnsTargets {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}

const NOUN = MESSAGES.noun.dnsTargets;
const KNOWN = ['interval', 'port', 'protocol', 'basePath', 'servers', 'resolver'] as const;
/** RFC 1035 §2.3.4 and RFC 2782's leading underscores: labels of letters, digits, '-', '_'. */
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9_-]{1,63}(?:\.[A-Za-z0-9_-]{1,63})*$/;

/**
 * Targets found in DNS and kept up to date: pass the result as the `targets` option.
 *
 * - A name whose first label starts with `_` (`_http._tcp.api.service.consul`) is looked
 *   up as SRV (RFC 2782): each record of the lowest priority gives a target at its port,
 *   weighted by its weight (a weight of 0 counts as 1). The record's host name is looked
 *   up (A, else AAAA) through the same servers, and the target is its address; requests
 *   carry that host name in `Host`.
 * - Any other name (`api.default.svc.cluster.local`, a Kubernetes headless service) is
 *   looked up as A and AAAA: one target per address, at `port`, weight 1, with the name
 *   in `Host`.
 *
 * The balancer looks the name up at once, then every `interval` ms, and adds and
 * removes targets to match (a removed target finishes its in-flight requests). A lookup
 * that fails or finds no target keeps the targets as they were. Until the first answer
 * the balancer has no target and answers 503 `ELB_NO_TARGET`: await `lb.ready()` before
 * taking traffic. Throws a `TypeError` naming the faulty argument.
 *
 * @example
 * ```ts
 * app.use('/api', loadBalance({ targets: dnsTargets('_http._tcp.api.service.consul', { interval: 10_000 }) }));
 * app.use('/users', loadBalance({ targets: dnsTargets('users.default.svc.cluster.local', { port: 8080 }) }));
 * ```
 * @public
 */
export function dnsTargets(name: string, options: DnsTargetsOptions = {}): DnsTargets {
  const m = MESSAGES.dns;
  if (typeof name !== 'string' || !DNS_NAME.test(name.replace(/\.$/, ''))) fail('name', m.name, name, NOUN);
  const host = name.replace(/\.$/, '');
  const opts = optionObject('options', options, KNOWN, MESSAGES.objects.settings, NOUN);
  const record = host.startsWith('_') ? 'SRV' : 'A/AAAA';

  const portOption = own(opts, 'port');
  if (record === 'SRV' && portOption !== undefined) fail('options.port', m.srvPort, portOption, NOUN);
  if (record === 'A/AAAA' && portOption === undefined) fail('options.port', m.portRequired, portOption, NOUN);
  if (portOption !== undefined && !(Number.isInteger(portOption) && (portOption as number) >= 1 && (portOption as number) <= 65_535)) {
    fail('options.port', m.port, portOption, NOUN);
  }
  const protocol = own(opts, 'protocol') ?? DEFAULTS.dnsTargets.protocol;
  if (protocol !== 'http' && protocol !== 'https') fail('options.protocol', m.protocol, protocol, NOUN);

  const resolver = own(opts, 'resolver');
  if (resolver !== undefined && !isResolver(resolver)) fail('options.resolver', m.resolver, resolver, NOUN);
  const servers = parseServers(own(opts, 'servers'));
  if (servers !== undefined && resolver !== undefined) fail('options.servers', m.serversAndResolver, servers, NOUN);

  const source: DnsTargets = {
    kind: 'dns',
    name: host,
    record,
    interval: milliseconds('options.interval', own(opts, 'interval'), DEFAULTS.dnsTargets.interval, NOUN),
    port: portOption as number | undefined,
    protocol,
    basePath: parseBasePath(own(opts, 'basePath')),
    servers,
    resolver,
  };
  return Object.freeze(Object.defineProperty(source, BRAND, { value: true }));
}

function isResolver(value: unknown): value is DnsResolver {
  const r = value as Partial<Record<keyof DnsResolver, unknown>> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    typeof r.resolveSrv === 'function' &&
    typeof r.resolve4 === 'function' &&
    typeof r.resolve6 === 'function'
  );
}

function parseServers(input: unknown): readonly string[] | undefined {
  if (input === undefined) return undefined;
  if (!Array.isArray(input) || input.length === 0 || !input.every((s) => typeof s === 'string')) {
    fail('options.servers', MESSAGES.dns.servers, input, NOUN);
  }
  try {
    // Node's own parser is the authority on what setServers accepts.
    new Resolver().setServers(input);
  } catch {
    fail('options.servers', MESSAGES.dns.servers, input, NOUN);
  }
  return Object.freeze([...input]);
}

function parseBasePath(input: unknown): string {
  if (input === undefined) return '';
  if (typeof input !== 'string' || (input !== '' && !input.startsWith('/')))
    fail('options.basePath', MESSAGES.dns.basePathStart, input, NOUN);
  try {
    return parseTarget(`http://localhost${input}`, 'options.basePath', NOUN).basePath;
  } catch {
    fail('options.basePath', MESSAGES.dns.basePath, input, NOUN);
  }
}
