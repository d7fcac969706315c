import { format } from 'node:util';
import createDebug from 'debug';
import { dnsTargets, isLoadBalanceError, loadBalance, type DnsTargetsOptions, type ErrorEvent } from 'express-load-balance';
import { startDns, watchedResolver, type Srv, type TestDns, type WatchedResolver } from './helpers/dns-server';
import { fakeRuntime, type FakeClock } from './helpers/fake-clock';
import { Holder } from './helpers/hold';
import { answers, closeAll, request, startBalancer, type Balanced, type Upstream } from './helpers/servers';

const SERVICE = '_http._tcp.api.service.test';

describe('targets from DNS', () => {
  let dns: TestDns;
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  let holder = new Holder();

  beforeEach(async () => {
    dns = await startDns();
  });

  afterEach(async () => {
    holder.releaseAll();
    await closeAll(balanced, ...upstreams);
    await dns.stop();
    balanced = undefined;
    upstreams = [];
  });

  /** Upstreams named a, b, c… each reachable in DNS as `<name>.test` -> 127.0.0.1. */
  async function startUpstreams(...names: string[]): Promise<Upstream[]> {
    holder = new Holder();
    upstreams = await holder.startUpstreams(names);
    for (const name of names) dns.a.set(`${name}.test`, ['127.0.0.1']);
    return upstreams;
  }

  const srv = (upstream: Upstream, weight = 1, priority = 10): Srv => ({
    target: `${upstream.name}.test`,
    port: upstream.port,
    weight,
    priority,
  });
  const urls = (...list: Upstream[]) => list.map((u) => u.url).sort();

  async function balance(name: string, options: DnsTargetsOptions = {}): Promise<Balanced> {
    balanced = await startBalancer({ targets: dnsTargets(name, { servers: [dns.address], ...options }), outlierDetection: false });
    return balanced;
  }

  /** A balancer following `name` through a watched resolver every 5 ms, once it has its first answer. */
  async function following(name: string, options: DnsTargetsOptions = {}): Promise<Balanced & { resolver: WatchedResolver }> {
    const resolver = watchedResolver(dns, name);
    const started = await balance(name, { ...options, interval: 5, servers: undefined, resolver });
    await started.lb.ready();
    return Object.assign(started, { resolver });
  }

  it('spreads requests over the SRV records by their weights, sending the SRV host name in Host', async () => {
    const [a, b] = await startUpstreams('a', 'b');
    dns.srv.set(SERVICE, [srv(a!, 1), srv(b!, 3)]);
    const { lb, url } = await balance(SERVICE);
    await lb.ready();

    expect(
      lb
        .targets()
        .map(({ url, weight }) => ({ url, weight }))
        .sort((x, y) => x.url.localeCompare(y.url)),
    ).toEqual(
      [
        { url: a!.url, weight: 1 },
        { url: b!.url, weight: 3 },
      ].sort((x, y) => x.url.localeCompare(y.url)),
    );
    const names = (await answers(url, 8)).split(' ');
    expect(names.filter((n) => n === 'a')).toHaveLength(2);
    expect(names.filter((n) => n === 'b')).toHaveLength(6);
    expect(a!.seen[0]!.headers.host).toBe(`a.test:${a!.port}`);
    expect(b!.seen[0]!.headers.host).toBe(`b.test:${b!.port}`);
  });

  it('follows the SRV set as it grows and shrinks; a target that left finishes its request in flight', async () => {
    const [a, b, c] = await startUpstreams('a', 'b', 'c');
    dns.srv.set(SERVICE, [srv(a!)]);
    const { lb, url, resolver } = await following(SERVICE);
    expect(lb.targets().map((t) => t.url)).toEqual([a!.url]);
    const held = request(url, { path: '/slow' });
    await holder.arrived(1);

    dns.srv.set(SERVICE, [srv(a!), srv(b!), srv(c!)]);
    await resolver.lookups(2);
    expect(
      lb
        .targets()
        .map((t) => t.url)
        .sort(),
    ).toEqual(urls(a!, b!, c!));

    dns.srv.set(SERVICE, [srv(b!), srv(c!)]);
    await resolver.lookups(2);
    expect(
      lb
        .targets()
        .map((t) => t.url)
        .sort(),
    ).toEqual(urls(b!, c!));
    expect((await answers(url, 4)).split(' ').sort()).toEqual(['b', 'b', 'c', 'c']);

    holder.releaseAll();
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('released by a');
    expect(a!.seen.map((r) => r.url)).toEqual(['/slow']);
  });

  it('uses only the lowest SRV priority, and the next one once the lowest is gone', async () => {
    const [a, b] = await startUpstreams('a', 'b');
    dns.srv.set(SERVICE, [srv(b!, 1, 20), srv(a!, 1, 10)]);
    const { url, resolver } = await following(SERVICE);
    expect(await answers(url, 3)).toBe('a a a');

    dns.srv.set(SERVICE, [srv(b!, 1, 20)]);
    await resolver.lookups(2);
    expect(await answers(url, 3)).toBe('b b b');
  });

  it('takes a new SRV weight for a target it already has, and counts a weight of 0 as 1', async () => {
    const [a, b] = await startUpstreams('a', 'b');
    dns.srv.set(SERVICE, [srv(a!, 0), srv(b!, 0)]);
    const { lb, resolver } = await following(SERVICE);
    expect(lb.targets().map((t) => t.weight)).toEqual([1, 1]);

    dns.srv.set(SERVICE, [srv(a!, 5), srv(b!, 0)]);
    await resolver.lookups(2);
    expect(Object.fromEntries(lb.targets().map((t) => [t.url, t.weight]))).toEqual({ [a!.url]: 5, [b!.url]: 1 });
  });

  it('keeps the last targets while the DNS server is down, and follows it again once it is back', async () => {
    const [a, b] = await startUpstreams('a', 'b');
    dns.srv.set(SERVICE, [srv(a!)]);
    const { lb, url, resolver } = await following(SERVICE);

    await dns.stop();
    await resolver.lookups(3);
    expect(lb.targets().map((t) => t.url)).toEqual([a!.url]);
    expect(await answers(url, 2)).toBe('a a');

    dns.srv.set(SERVICE, [srv(b!)]);
    await dns.start();
    await resolver.lookups(2);
    expect(lb.targets().map((t) => t.url)).toEqual([b!.url]);
    expect(await answers(url, 2)).toBe('b b');
  });

  it('emits error, naming the source, for each failed lookup; a lookup that names no target is no error', async () => {
    const [a] = await startUpstreams('a');
    dns.srv.set(SERVICE, [srv(a!)]);
    const { lb, resolver } = await following(SERVICE);
    const events: ErrorEvent[] = [];
    lb.on('error', (event) => events.push(event));

    dns.srv.delete(SERVICE);
    await resolver.lookups(2);
    expect(events).toEqual([]);

    await dns.stop();
    await resolver.lookups(2);
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]!.error.message).toMatch(new RegExp(`^querySrv (ECONNREFUSED|ETIMEOUT) ${SERVICE}$`));
    expect(events[0]!.discovery).toMatchObject({ kind: 'dns', name: SERVICE });
    expect(lb.targets().map((t) => t.url)).toEqual([a!.url]);
  });

  it('keeps the last targets when an answer names none', async () => {
    const [a] = await startUpstreams('a');
    dns.srv.set(SERVICE, [srv(a!)]);
    const { lb, url, resolver } = await following(SERVICE);

    dns.srv.delete(SERVICE);
    await resolver.lookups(2);
    expect(lb.targets().map((t) => t.url)).toEqual([a!.url]);
    // An SRV host name with no address names no target either.
    dns.srv.set(SERVICE, [{ target: 'nowhere.test', port: 1 }]);
    await resolver.lookups(2);
    expect(await answers(url, 1)).toBe('a');
  });

  it('makes one target per A and AAAA address of a name, at the given port, with the name in Host', async () => {
    const [a] = await startUpstreams('a');
    const name = 'api.default.svc.test';
    dns.a.set(name, ['127.0.0.1']);
    const { lb, url, resolver } = await following(name, { port: a!.port, basePath: '/v1' });
    expect(lb.targets().map((t) => t.url)).toEqual([`${a!.url}/v1`]);
    expect((await request(url, { path: '/users' })).status).toBe(200);
    expect(a!.seen[0]).toMatchObject({ url: '/v1/users', headers: { host: `${name}:${a!.port}` } });

    dns.aaaa.set(name, ['::1']);
    await resolver.lookups(2);
    expect(lb.targets().map((t) => t.url)).toEqual([`${a!.url}/v1`, `http://[::1]:${a!.port}/v1`]);
  });

  it('logs the targets it adds and removes, and failed lookups, under express-load-balance:discovery', async () => {
    const lines: string[] = [];
    const enabledBefore = createDebug.disable();
    const logBefore = createDebug.log;
    createDebug.enable('express-load-balance:discovery');
    createDebug.log = (...args: unknown[]) => void lines.push(format(...args));
    try {
      const [a, b] = await startUpstreams('a', 'b');
      dns.srv.set(SERVICE, [srv(a!)]);
      const { resolver } = await following(SERVICE);
      dns.srv.set(SERVICE, [srv(b!, 2)]);
      await resolver.lookups(2);
      await dns.stop();
      await resolver.lookups(2);
      const logged = lines.map((line) => line.replace(/^\S+ express-load-balance:discovery /, ''));
      expect(logged.slice(0, 3)).toEqual([
        `SRV ${SERVICE}: new target ${a!.url} (Host a.test:${a!.port}, weight 1)`,
        `SRV ${SERVICE}: ${a!.url} is gone`,
        `SRV ${SERVICE}: new target ${b!.url} (Host b.test:${b!.port}, weight 2)`,
      ]);
      expect(logged[3]).toMatch(
        new RegExp(`^SRV ${SERVICE}: lookup failed, keeping 1 targets: querySrv (ECONNREFUSED|ETIMEOUT) ${SERVICE}$`),
      );
    } finally {
      createDebug.log = logBefore;
      createDebug.disable();
      if (enabledBefore !== '') createDebug.enable(enabledBefore);
    }
  });

  it('answers 503 ELB_NO_TARGET until the first answer, which ready() waits for', async () => {
    const [a] = await startUpstreams('a');
    dns.srv.set(SERVICE, [srv(a!)]);
    dns.pause();
    const { lb, url, errors } = await balance(SERVICE);
    const early = await request(url);
    expect(early.status).toBe(503);
    expect(errors).toEqual([expect.objectContaining({ code: 'ELB_NO_TARGET' })]);
    expect(isLoadBalanceError(errors[0])).toBe(true);

    dns.resume();
    await lb.ready();
    expect(await answers(url, 1)).toBe('a');
  });

  it('rejects ready() when the balancer is closed before any answer', async () => {
    dns.pause();
    const { lb } = await balance(SERVICE);
    const ready = lb.ready();
    await lb.close();
    await expect(ready).rejects.toThrow(/closed before DNS named any target for _http._tcp.api.service.test/);
  });

  describe('on the injected clock', () => {
    const INTERVAL = 7_777;
    const clocks: FakeClock[] = [];
    afterEach(() => void (clocks.length = 0));

    /** Follows SERVICE through a watched resolver, every INTERVAL ms of the balancer's clock. */
    const source = (resolver: WatchedResolver) => dnsTargets(SERVICE, { resolver, interval: INTERVAL });

    /** A balancer on its own fake clock, following `source`, once it has its first answer. */
    async function onClock(source: ReturnType<typeof dnsTargets>): Promise<Balanced & { clock: FakeClock }> {
      const runtime = fakeRuntime();
      clocks.push(runtime.clock);
      const started = await startBalancer({ targets: source, outlierDetection: false }, { runtime });
      await started.lb.ready();
      return Object.assign(started, { clock: runtime.clock });
    }

    /**
     * Moves `clock` to the next lookup, which must start at once, and resolves once its
     * answer is applied (the lookup after it is scheduled).
     */
    async function nextLookup(clock: FakeClock, resolver: WatchedResolver): Promise<void> {
      const applied = clock.timersSet(1, (ms) => ms === INTERVAL);
      const before = resolver.started();
      clock.advance(INTERVAL);
      expect(resolver.started()).toBe(before + 1);
      await applied;
    }

    const sortedUrls = (lb: Balanced['lb']) =>
      lb
        .targets()
        .map((t) => t.url)
        .sort();

    it('gives each balancer its own lookups from one dnsTargets() value: closing one leaves the other following', async () => {
      const [a, b] = await startUpstreams('a', 'b');
      dns.srv.set(SERVICE, [srv(a!)]);
      const resolver = watchedResolver(dns, SERVICE);
      const shared = source(resolver);
      const first = await onClock(shared);
      const second = await onClock(shared);
      try {
        await first.lb.removeTarget(a!.url);
        expect(sortedUrls(second.lb)).toEqual([a!.url]);
        await first.lb.close();

        dns.srv.set(SERVICE, [srv(a!), srv(b!)]);
        await nextLookup(second.clock, resolver);
        expect(sortedUrls(second.lb)).toEqual(urls(a!, b!));
        first.clock.advance(10 * INTERVAL);
        expect(resolver.started()).toBe(3); // the first lookup of each, then the second's next
      } finally {
        await closeAll(first, second);
      }
    });

    it('stops its lookups on close()', async () => {
      const [a] = await startUpstreams('a');
      dns.srv.set(SERVICE, [srv(a!)]);
      const resolver = watchedResolver(dns, SERVICE);
      balanced = await onClock(source(resolver));
      await nextLookup(clocks[0]!, resolver);
      expect(resolver.started()).toBe(2);

      await balanced.lb.close();
      clocks[0]!.advance(10 * INTERVAL);
      expect(resolver.started()).toBe(2);
    });

    it('leaves targets added with lb.addTarget() alone, whatever DNS says', async () => {
      const [a, b, c] = await startUpstreams('a', 'b', 'c');
      dns.srv.set(SERVICE, [srv(a!)]);
      const resolver = watchedResolver(dns, SERVICE);
      balanced = await onClock(source(resolver));
      balanced.lb.addTarget(b!.url);

      dns.srv.set(SERVICE, [srv(c!)]);
      await nextLookup(clocks[0]!, resolver);
      expect(sortedUrls(balanced.lb)).toEqual(urls(b!, c!));
    });
  });
});

describe('dnsTargets() arguments', () => {
  it.each([
    [['not a name!'], /dnsTargets\(\) argument "name" must be a DNS name, got "not a name!"/],
    [[''], /argument "name" must be a DNS name/],
    [['api.test'], /argument "options.port" is required for an A\/AAAA name/],
    [[SERVICE, { port: 80 }], /argument "options.port" does not apply to an SRV name/],
    [['api.test', { port: 0 }], /argument "options.port" must be a whole number from 1 to 65535, got 0/],
    [['api.test', { port: 80, protocol: 'ftp' }], /argument "options.protocol" must be 'http' or 'https', got "ftp"/],
    [[SERVICE, { interval: 0 }], /argument "options.interval" must be a positive, finite number, got 0/],
    [[SERVICE, { servers: ['not an ip'] }], /argument "options.servers" must be a non-empty array/],
    [[SERVICE, { servers: [] }], /argument "options.servers" must be a non-empty array/],
    [[SERVICE, { basePath: 'v1' }], /argument "options.basePath" must be a path starting with '\/'/],
    [[SERVICE, { basePath: '/v1?x=1' }], /argument "options.basePath" must be a path without a query/],
    [[SERVICE, { resolver: {} }], /argument "options.resolver" must have resolveSrv, resolve4 and resolve6 methods/],
    [[SERVICE, { ttl: 5 }], /argument "options.ttl" is not a known setting/],
  ])('refuses %j', (args, message) => {
    expect(() => (dnsTargets as (...a: unknown[]) => unknown)(...args)).toThrow(message);
    expect(() => (dnsTargets as (...a: unknown[]) => unknown)(...args)).toThrow(TypeError);
  });

  it('is refused by loadBalance when it is a look-alike, not made by dnsTargets()', () => {
    const lookAlike = { ...dnsTargets(SERVICE) };
    expect(() => loadBalance({ targets: lookAlike })).toThrow(
      /option "targets" must be a non-empty array of target URLs, or dnsTargets\(\.\.\.\)/,
    );
  });

  it('describes what it looks up', () => {
    expect(dnsTargets('api.test.', { port: 8080 })).toMatchObject({
      kind: 'dns',
      name: 'api.test',
      record: 'A/AAAA',
      port: 8080,
      interval: 10_000,
      protocol: 'http',
      basePath: '',
    });
    expect(dnsTargets(SERVICE, { basePath: '/v1/', protocol: 'https' })).toMatchObject({
      record: 'SRV',
      port: undefined,
      basePath: '/v1',
      protocol: 'https',
    });
    expect(Object.isFrozen(dnsTargets(SERVICE))).toBe(true);
  });
});
