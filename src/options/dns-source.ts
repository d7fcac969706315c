import type { SrvRecord } from 'node:dns';

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

/** Marks a source as made by dnsTargets(). */
export function brand(source: DnsTargets): DnsTargets {
  return Object.freeze(Object.defineProperty(source, BRAND, { value: true }));
}

/** True only for what dnsTargets() returned. */
export function isDnsTargets(value: unknown): value is DnsTargets {
  return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
}
