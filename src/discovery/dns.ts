import { isIP } from 'node:net';
import { Resolver } from 'node:dns/promises';
import { parseTarget, type TargetSpec } from '../options/normalize';
import { fail, milliseconds, optionObject, own } from '../options/validate';
import { brand, type DnsResolver, type DnsTargets } from '../options/dns-source';

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

const NOUN = 'dnsTargets() argument';
const KNOWN = ['interval', 'port', 'protocol', 'basePath', 'servers', 'resolver'] as const;
const DEFAULT_INTERVAL = 10_000;
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
  if (typeof name !== 'string' || !DNS_NAME.test(name.replace(/\.$/, ''))) fail('name', 'must be a DNS name', name, NOUN);
  const host = name.replace(/\.$/, '');
  const opts = optionObject('options', options, KNOWN, NOUN);
  const record = host.startsWith('_') ? 'SRV' : 'A/AAAA';

  const portOption = own(opts, 'port');
  if (record === 'SRV' && portOption !== undefined) fail('options.port', 'does not apply to an SRV name: its records give the ports', portOption, NOUN);
  if (record === 'A/AAAA' && portOption === undefined) fail('options.port', 'is required for an A/AAAA name', portOption, NOUN);
  if (portOption !== undefined && !(Number.isInteger(portOption) && (portOption as number) >= 1 && (portOption as number) <= 65_535)) {
    fail('options.port', 'must be a whole number from 1 to 65535', portOption, NOUN);
  }
  const protocol = own(opts, 'protocol') ?? 'http';
  if (protocol !== 'http' && protocol !== 'https') fail('options.protocol', "must be 'http' or 'https'", protocol, NOUN);

  const resolver = own(opts, 'resolver');
  if (resolver !== undefined && !isResolver(resolver)) {
    fail('options.resolver', 'must have resolveSrv, resolve4 and resolve6 methods', resolver, NOUN);
  }
  const servers = parseServers(own(opts, 'servers'));
  if (servers !== undefined && resolver !== undefined) fail('options.servers', 'cannot be given with options.resolver', servers, NOUN);

  return brand({
    kind: 'dns',
    name: host,
    record,
    interval: milliseconds('options.interval', own(opts, 'interval'), DEFAULT_INTERVAL, NOUN),
    port: portOption as number | undefined,
    protocol,
    basePath: parseBasePath(own(opts, 'basePath')),
    servers,
    resolver,
  });
}

function isResolver(value: unknown): value is DnsResolver {
  const r = value as Partial<Record<keyof DnsResolver, unknown>> | null;
  return typeof r === 'object' && r !== null && typeof r.resolveSrv === 'function' && typeof r.resolve4 === 'function' && typeof r.resolve6 === 'function';
}

function parseServers(input: unknown): readonly string[] | undefined {
  if (input === undefined) return undefined;
  if (!Array.isArray(input) || input.length === 0 || !input.every((s) => typeof s === 'string')) {
    fail('options.servers', "must be a non-empty array of 'ip' or 'ip:port' strings", input, NOUN);
  }
  try {
    // Node's own parser is the authority on what setServers accepts.
    new Resolver().setServers(input as string[]);
  } catch {
    fail('options.servers', "must be a non-empty array of 'ip' or 'ip:port' strings", input, NOUN);
  }
  return Object.freeze([...(input as string[])]);
}

function parseBasePath(input: unknown): string {
  if (input === undefined) return '';
  if (typeof input !== 'string' || (input !== '' && !input.startsWith('/'))) fail('options.basePath', "must be a path starting with '/'", input, NOUN);
  try {
    return parseTarget(`http://localhost${input}`, 'options.basePath', NOUN).basePath;
  } catch {
    fail('options.basePath', "must be a path without a query, a fragment or a leading '//'", input, NOUN);
  }
}

/** Created per balancer: each one keeps its own queries, cancelled by its close(). */
export function createResolver(source: DnsTargets): { resolver: DnsResolver; cancel(): void } {
  if (source.resolver !== undefined) return { resolver: source.resolver, cancel: () => undefined };
  const resolver = new Resolver();
  if (source.servers !== undefined) resolver.setServers(source.servers as string[]);
  return { resolver, cancel: () => resolver.cancel() };
}

/**
 * One lookup of `source`: the targets it names, sorted by URL (so every balancer adds
 * them in the same order), or a rejection when a DNS server failed. An empty array
 * means DNS answered and named no target.
 */
export async function resolveTargets(source: DnsTargets, resolver: DnsResolver): Promise<TargetSpec[]> {
  const found = new Map<string, TargetSpec>();
  const add = (address: string, port: number, hostName: string, weight: number): void => {
    const hostPart = isIP(address) === 6 ? `[${address}]` : address;
    const spec = parseTarget(`${source.protocol}://${hostPart}:${port}${source.basePath}`, 'target');
    const defaultPort = spec.protocol === 'https:' ? 443 : 80;
    const hostHeader = port === defaultPort ? hostName : `${hostName}:${port}`;
    // Two records naming the same address and port are one server: its shares add up.
    const known = found.get(spec.url);
    found.set(spec.url, Object.freeze({ ...spec, hostHeader: known?.hostHeader ?? hostHeader, weight: (known?.weight ?? 0) + weight }));
  };

  if (source.record === 'A/AAAA') {
    for (const address of await addressesOf(source.name, resolver, true)) add(address, source.port!, source.name, 1);
  } else {
    // RFC 2782: a target of "." means the service is decidedly not there; port 0 names no server.
    const records = (await resolver.resolveSrv(source.name)).filter((r) => r.name !== '' && r.name !== '.' && r.port > 0);
    // RFC 2782: a client must contact the lowest-numbered priority it can reach; the
    // higher ones are backups, not extra capacity.
    const lowest = Math.min(...records.map((r) => r.priority));
    const chosen = records.filter((r) => r.priority === lowest);
    const hostNames = [...new Set(chosen.map((r) => r.name.replace(/\.$/, '')))];
    // All at once, so that one failing lookup rejects this one promise, and no other is
    // left rejected with no handler.
    const addresses = new Map(await Promise.all(hostNames.map(async (host) => [host, await addressesOf(host, resolver, false)] as const)));
    for (const r of chosen) {
      const hostName = r.name.replace(/\.$/, '');
      // RFC 2782 gives weight-0 records "a very small chance" next to weighted ones;
      // the pool needs a positive weight, and 1 is that small chance beside 10 or 100.
      for (const address of addresses.get(hostName)!) add(address, r.port, hostName, Math.max(r.weight, 1));
    }
  }
  return [...found.values()].sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0));
}

/** DNS answered, and had no such record: not a failure of the server. */
function isNoRecord(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENODATA' || code === 'ENOTFOUND';
}

/**
 * The addresses of a host name: IPv4 and IPv6 (`both`), or IPv4, else IPv6. A name
 * that is already an address is its own answer. Rejects only when a server failed.
 */
async function addressesOf(name: string, resolver: DnsResolver, both: boolean): Promise<string[]> {
  if (isIP(name) !== 0) return [name];
  const lookup = (query: Promise<string[]>): Promise<string[]> =>
    query.catch((error: unknown) => {
      if (isNoRecord(error)) return [];
      throw error;
    });
  if (both) {
    const [v4, v6] = await Promise.all([lookup(resolver.resolve4(name)), lookup(resolver.resolve6(name))]);
    return [...v4, ...v6];
  }
  const v4 = await lookup(resolver.resolve4(name));
  return v4.length > 0 ? v4 : lookup(resolver.resolve6(name));
}
