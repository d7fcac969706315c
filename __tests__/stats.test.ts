import { endings } from './helpers/events';
import { Holder } from './helpers/hold';
import { closeAll, deadUrl, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

describe('lb.stats() over real requests', () => {
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  const holder = new Holder();
  afterEach(async () => {
    holder.releaseAll();
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  it('counts each target’s requests, share and latency, and totals them', async () => {
    const slowMs = 60;
    upstreams = await Promise.all([
      startUpstream('fast'),
      startUpstream('slow', (app) => app.use((_req, _res, next) => void setTimeout(next, slowMs))),
    ]);
    balanced = await startBalancer({ targets: upstreams.map((u) => u.url), strategy: 'round-robin' });
    const ended = endings(balanced.lb);
    for (let i = 0; i < 10; i++) expect((await request(balanced.url)).status).toBe(200);
    await ended.count(10);

    const stats = balanced.lb.stats();
    expect(stats).toMatchObject({
      windowMs: 60_000,
      panic: false,
      totals: { targets: 2, usable: 2, inFlight: 0, requests: 10, failures: 0, recent: { requests: 10, failures: 0 } },
    });
    const [fast, slow] = stats.targets;
    for (const [target, upstream] of [
      [fast, upstreams[0]],
      [slow, upstreams[1]],
    ] as const) {
      expect(target).toMatchObject({
        url: upstream!.url,
        weight: 1,
        healthy: true,
        ejected: false,
        inFlight: 0,
        requests: 5,
        failures: 0,
        recent: { requests: 5, failures: 0, share: 0.5 },
      });
    }
    // The slow target's every response took at least slowMs; percentiles may read up to 3 % low.
    expect(slow!.recent.latency.p50).toBeGreaterThanOrEqual(slowMs * 0.97);
    expect(slow!.recent.latency.p99).toBeGreaterThanOrEqual(slow!.recent.latency.p50!);
    expect(fast!.recent.latency.p50).toBeGreaterThan(0);
    // Half the attempts took slowMs or more: the overall p95 is one of them.
    expect(stats.totals.recent.latency.p95).toBeGreaterThanOrEqual(slowMs * 0.97);
    expect(stats.totals.recent.latency.p99).toBeLessThanOrEqual(slow!.recent.latency.p99! * 1.03);
  });

  it('shows a request in flight while the upstream holds it', async () => {
    upstreams = [await startUpstream('a', holder.route('/hold', 'a'))];
    balanced = await startBalancer({ targets: [upstreams[0]!.url] });
    const ended = endings(balanced.lb);
    const answer = request(balanced.url, { path: '/hold' });
    await holder.arrived(1);
    expect(balanced.lb.stats()).toMatchObject({
      targets: [{ inFlight: 1, requests: 1, recent: { requests: 0, share: 0 } }],
      totals: { inFlight: 1, recent: { requests: 0, latency: { p50: null, p95: null, p99: null } } },
    });
    holder.releaseAll();
    expect((await answer).status).toBe(200);
    await ended.count(1);
    expect(balanced.lb.stats().targets[0]).toMatchObject({ inFlight: 0, requests: 1, recent: { requests: 1, share: 1 } });
  });

  it('counts a refused connection as a failure of that target, and its retry elsewhere as a request', async () => {
    const gone = await deadUrl();
    upstreams = [await startUpstream('a')];
    balanced = await startBalancer({ targets: [gone, upstreams[0]!.url], strategy: 'round-robin', retries: 1 });
    const ended = endings(balanced.lb);
    expect((await request(balanced.url)).status).toBe(200);
    await ended.count(2);
    const { targets, totals } = balanced.lb.stats();
    expect(targets[0]).toMatchObject({ url: gone, requests: 1, failures: 1, recent: { requests: 1, failures: 1, share: 0.5 } });
    expect(targets[0]!.recent.latency.p50).toEqual(expect.any(Number));
    expect(targets[1]).toMatchObject({ requests: 1, failures: 0, recent: { requests: 1, failures: 0, share: 0.5 } });
    expect(totals).toMatchObject({ requests: 2, failures: 1, recent: { requests: 2, failures: 1 } });
    expect(ended.events.map((e) => [e.result, e.status])).toEqual([
      ['error', undefined],
      ['response', 200],
    ]);
  });

  it('lists targets added and forgets removed ones', async () => {
    upstreams = await Promise.all([startUpstream('a'), startUpstream('b')]);
    balanced = await startBalancer({ targets: [upstreams[0]!.url] });
    balanced.lb.addTarget(upstreams[1]!.url);
    expect(balanced.lb.stats().targets.map((t) => t.url)).toEqual([upstreams[0]!.url, upstreams[1]!.url]);
    await balanced.lb.removeTarget(upstreams[0]!.url);
    expect(balanced.lb.stats()).toMatchObject({ targets: [{ url: upstreams[1]!.url }], totals: { targets: 1, usable: 1 } });
  });
});
