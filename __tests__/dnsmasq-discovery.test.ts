import { Resolver } from 'node:dns/promises';
import { dnsTargets, type DnsTargetsOptions, type ErrorEvent } from 'express-load-balance';
import type { Srv } from './helpers/dns-server';
import { DNSMASQ, Dnsmasq, type Zone } from './helpers/dnsmasq';
import { FakeClock, fakeRuntime } from './helpers/fake-clock';
import { answers, closeAll, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

/**
 * Discovery against dnsmasq, a DNS server operators run (Consul's and Kubernetes' DNS
 * answer the same records: SRV with host names, and A records for those names).
 * Lookups run on a fake clock: each step advances it one interval and waits for that
 * lookup to end, so a test knows exactly which answer the balancer has seen.
 */
const SERVICE = '_http._tcp.api.service.test';
/** Distinct from every other timer the balancer sets, so that waiting for it means a lookup ended. */
const INTERVAL = 7_001;

// Skipped on a developer's machine without dnsmasq; on CI (.ci/run installs it) a missing
// dnsmasq must fail the run, never pass it quietly.
const withDnsmasq = DNSMASQ !== undefined || process.env.CI === 'true' ? describe : describe.skip;
if (DNSMASQ === undefined && process.env.CI !== 'true') {
  console.warn('dnsmasq discovery tests skipped: dnsmasq is not installed (apt-get install dnsmasq-base)');
}

withDnsmasq(`targets from a real DNS server, dnsmasq${DNSMASQ === undefined ? ' (skipped: not installed)' : ''}`, () => {
  let dns: Dnsmasq | undefined;
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  let clock: FakeClock;
  let lookupErrors: ErrorEvent[];

  beforeEach(() => {
    clock = new FakeClock();
    lookupErrors = [];
  });

  afterEach(async () => {
    // dnsmasq first, even when closing a server fails: no process may outlive the test.
    await dns?.stop();
    await closeAll(balanced, ...upstreams);
    dns = undefined;
    balanced = undefined;
    upstreams = [];
  });

  /** Upstreams named a, b, c…, each `<name>.test` -> 127.0.0.1 in dnsmasq's host records. */
  async function startUpstreams(...names: string[]): Promise<Upstream[]> {
    upstreams = await Promise.all(names.map((name) => startUpstream(name)));
    return upstreams;
  }

  const hostsOf = (...list: Upstream[]): Record<string, string[]> =>
    Object.fromEntries(list.map((upstream) => [`${upstream.name}.test`, ['127.0.0.1']]));
  const srv = (upstream: Upstream, weight = 1, priority = 10): Srv => ({
    target: `${upstream.name}.test`,
    port: upstream.port,
    weight,
    priority,
  });

  async function startDns(zone: Zone): Promise<Dnsmasq> {
    dns = await Dnsmasq.start(zone);
    return dns;
  }

  /** A balancer asking dnsmasq through the `servers` option, once it has its first answer. */
  async function balance(name: string, options: DnsTargetsOptions = {}): Promise<Balanced> {
    const source = dnsTargets(name, { servers: [dns!.address], interval: INTERVAL, ...options });
    balanced = await startBalancer({ targets: source, outlierDetection: false }, { runtime: fakeRuntime(clock) });
    balanced.lb.on('error', (event) => lookupErrors.push(event));
    await balanced.lb.ready();
    return balanced;
  }

  /** The next lookup: the clock moves one interval; resolves once the balancer has applied the answer. */
  async function nextLookup(): Promise<void> {
    const ended = clock.timersSet(1, (ms) => ms === INTERVAL);
    clock.advance(INTERVAL);
    await ended;
  }

  const urls = (balancedNow: Balanced): string[] =>
    balancedNow.lb
      .targets()
      .map((t) => t.url)
      .sort();

  it('spreads requests over the SRV records by their weights, with the SRV host name in Host', async () => {
    const [a, b] = await startUpstreams('a', 'b');
    await startDns({ srv: { [SERVICE]: [srv(a!, 1), srv(b!, 3)] }, hosts: hostsOf(a!, b!) });
    const { lb, url } = await balance(SERVICE);

    expect(Object.fromEntries(lb.targets().map((t) => [t.url, t.weight]))).toEqual({ [a!.url]: 1, [b!.url]: 3 });
    const names = (await answers(url, 8)).split(' ');
    expect(names.filter((n) => n === 'a')).toHaveLength(2);
    expect(names.filter((n) => n === 'b')).toHaveLength(6);
    expect(a!.seen[0]!.headers.host).toBe(`a.test:${a!.port}`);
    expect(lookupErrors).toEqual([]);
  });

  it('follows an SRV record change (dnsmasq reads srv-host only at start: restarted on the same port)', async () => {
    const [a, b] = await startUpstreams('a', 'b');
    await startDns({ srv: { [SERVICE]: [srv(a!)] }, hosts: hostsOf(a!, b!) });
    const started = await balance(SERVICE);
    expect(urls(started)).toEqual([a!.url]);

    await dns!.restart({ [SERVICE]: [srv(a!), srv(b!)] });
    await nextLookup();
    expect(urls(started)).toEqual([a!.url, b!.url].sort());

    await dns!.restart({ [SERVICE]: [srv(b!)] });
    await nextLookup();
    expect(urls(started)).toEqual([b!.url]);
    expect(await answers(started.url, 2)).toBe('b b');
    expect(lookupErrors).toEqual([]);
  });

  it('follows an A record change (a --hostsdir file, which dnsmasq re-reads when it changes)', async () => {
    const [a] = await startUpstreams('a');
    const name = 'api.default.svc.test';
    await startDns({ hosts: { [name]: ['127.0.0.1'] } });
    const started = await balance(name, { port: a!.port });
    expect(urls(started)).toEqual([a!.url]);
    expect(await answers(started.url, 1)).toBe('a');
    expect(a!.seen[0]!.headers.host).toBe(`${name}:${a!.port}`);

    await dns!.setHosts({ [name]: ['127.0.0.1', '127.0.0.2'] });
    await nextLookup();
    expect(urls(started)).toEqual([a!.url, `http://127.0.0.2:${a!.port}`]);

    await dns!.setHosts({ [name]: ['127.0.0.2'] });
    await nextLookup();
    expect(urls(started)).toEqual([`http://127.0.0.2:${a!.port}`]);
  });

  it('keeps its targets and emits error while the server does not answer, then follows it again', async () => {
    const [a, b] = await startUpstreams('a', 'b');
    await startDns({ srv: { [SERVICE]: [srv(a!)] }, hosts: hostsOf(a!, b!) });
    // A resolver of its own: the system's default waits and retries for many seconds.
    const resolver = new Resolver({ timeout: 1_000, tries: 1 });
    resolver.setServers([dns!.address]);
    const started = await balance(SERVICE, { servers: undefined, resolver });

    dns!.pause();
    const failed = new Promise<ErrorEvent>((resolve) => started.lb.on('error', resolve));
    clock.advance(INTERVAL);
    const event = await failed;
    expect(event.error.message).toBe(`querySrv ETIMEOUT ${SERVICE}`);
    expect((event.error as NodeJS.ErrnoException).code).toBe('ETIMEOUT');
    expect(event.discovery).toMatchObject({ kind: 'dns', name: SERVICE, record: 'SRV' });
    expect(event.target).toBeUndefined();
    expect(urls(started)).toEqual([a!.url]);
    expect(await answers(started.url, 2)).toBe('a a');

    await dns!.restart({ [SERVICE]: [srv(b!)] });
    await nextLookup();
    expect(urls(started)).toEqual([b!.url]);
    expect(lookupErrors).toHaveLength(1);
  });

  it('keeps its targets, without an error, when the name answers NXDOMAIN', async () => {
    const [a] = await startUpstreams('a');
    await startDns({ srv: { [SERVICE]: [srv(a!)] }, hosts: hostsOf(a!) });
    const started = await balance(SERVICE);

    // The service left (deregistered in Consul, say): dnsmasq answers NXDOMAIN for it.
    await dns!.restart({});
    const direct = new Resolver();
    direct.setServers([dns!.address]);
    await expect(direct.resolveSrv(SERVICE)).rejects.toMatchObject({ code: 'ENOTFOUND' });

    await nextLookup();
    expect(urls(started)).toEqual([a!.url]);
    expect(await answers(started.url, 1)).toBe('a');
    expect(lookupErrors).toEqual([]);
  });
});
