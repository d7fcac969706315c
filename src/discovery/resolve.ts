/**
 * The DNS lookups of a dnsTargets() source: what targets its name stands for now. The
 * source itself was checked when dnsTargets() made it (src/options/dns-targets.ts).
 */
import { isIP } from 'node:net';
import { Resolver } from 'node:dns/promises';
import type { DnsResolver, DnsTargets } from '../options/dns-targets';
import { parseTarget, type TargetSpec } from '../options/targets';

/** Created per balancer: each one keeps its own queries, cancelled by its close(). */
export function createResolver(source: DnsTargets): { resolver: DnsResolver; cancel: () => void } {
  if (source.resolver !== undefined) return { resolver: source.resolver, cancel: () => undefined };
  const resolver = new Resolver();
  if (source.servers !== undefined) resolver.setServers(source.servers);
  return { resolver, cancel: () => resolver.cancel() };
}

/**
 * One lookup of `source`: the targets it names, sorted by URL (so every balancer adds
 * them in the same order), or a rejection when a DNS server failed. An empty array
 * means DNS answered and named no target.
 */
export async function resolveTargets(source: DnsTargets, resolver: DnsResolver): Promise<TargetSpec[]> {
  const found = new Map<string, TargetSpec>();
  const add = (address: string, port: number, hostName: string, weight: number, priority: number): void => {
    const hostPart = isIP(address) === 6 ? `[${address}]` : address;
    const spec = parseTarget(`${source.protocol}://${hostPart}:${port}${source.basePath}`, 'target');
    const defaultPort = spec.protocol === 'https:' ? 443 : 80;
    const hostHeader = port === defaultPort ? hostName : `${hostName}:${port}`;
    // The target is reached by address; TLS needs the name to ask for and check (RFC 6066
    // §3: a server name is a host name, never an address literal).
    const serverName = spec.protocol === 'https:' && isIP(hostName) === 0 ? hostName : undefined;
    // Two records naming the same address and port are one server: at one priority its
    // shares add up; at two, the preferred (lower) one counts.
    const known = found.get(spec.url);
    if (known !== undefined && known.priority < priority) return;
    const same = known !== undefined && known.priority === priority;
    found.set(
      spec.url,
      Object.freeze({
        ...spec,
        hostHeader: same ? known.hostHeader : hostHeader,
        serverName: same ? known.serverName : serverName,
        weight: (same ? known.weight : 0) + weight,
        priority,
      }),
    );
  };

  if (source.record === 'A/AAAA') {
    for (const address of await addressesOf(source.name, resolver, true)) add(address, source.port!, source.name, 1, 0);
  } else {
    // RFC 2782: a target of "." means the service is decidedly not there; port 0 names no server.
    const records = (await noRecordAsNone(resolver.resolveSrv(source.name))).filter((r) => r.name !== '' && r.name !== '.' && r.port > 0);
    // RFC 2782: a client must contact the lowest-numbered priority it can reach; the
    // higher ones are backups, not extra capacity. Each record's priority becomes its
    // target's priority level, so the balancer spills to them only as the lower ones fail.
    const hostNames = [...new Set(records.map((r) => r.name.replace(/\.$/, '')))];
    // All at once, so that one failing lookup rejects this one promise, and no other is
    // left rejected with no handler.
    const addresses = new Map(await Promise.all(hostNames.map(async (host) => [host, await addressesOf(host, resolver, false)] as const)));
    for (const r of records) {
      const hostName = r.name.replace(/\.$/, '');
      // RFC 2782 gives weight-0 records "a very small chance" next to weighted ones;
      // the pool needs a positive weight, and 1 is that small chance beside 10 or 100.
      for (const address of addresses.get(hostName)!) add(address, r.port, hostName, Math.max(r.weight, 1), r.priority);
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
 * A query's records, or none when DNS answered that it has none (NXDOMAIN: a Consul
 * service with no instance left, a deleted Kubernetes service; or NODATA). Still
 * rejects when a server failed.
 */
async function noRecordAsNone<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (error) {
    if (isNoRecord(error)) return [];
    throw error;
  }
}

/**
 * The addresses of a host name: IPv4 and IPv6 (`both`), or IPv4, else IPv6. A name
 * that is already an address is its own answer. Rejects only when a server failed.
 */
async function addressesOf(name: string, resolver: DnsResolver, both: boolean): Promise<string[]> {
  if (isIP(name) !== 0) return [name];
  const lookup = noRecordAsNone<string>;
  if (both) {
    const [v4, v6] = await Promise.all([lookup(resolver.resolve4(name)), lookup(resolver.resolve6(name))]);
    return [...v4, ...v6];
  }
  const v4 = await lookup(resolver.resolve4(name));
  return v4.length > 0 ? v4 : lookup(resolver.resolve6(name));
}
