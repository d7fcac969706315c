import type { Request } from 'express';
import type { StrategyName } from 'express-load-balance';
import { Holder, runConcurrently } from './helpers/hold';
import { answers, closeAll, request, startBalancer, type Balanced, type Upstream } from './helpers/servers';

describe('adding and removing targets while running', () => {
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  let holder = new Holder();
  afterEach(async () => {
    holder.releaseAll();
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  async function start(names: string[], targets: number, options: object = {}): Promise<Balanced> {
    holder = new Holder();
    upstreams = await holder.startUpstreams(names);
    balanced = await startBalancer({ targets: upstreams.slice(0, targets).map((u) => u.url), ...options });
    return balanced;
  }

  it('validates addTarget like the targets option, naming the argument', async () => {
    const { lb } = await start(['a'], 1);
    expect(() => lb.addTarget('not a url')).toThrow(/addTarget\(\) argument "target" must be an absolute http\(s\) URL/);
    expect(() => lb.addTarget({ url: 'http://127.0.0.1:1', weight: 0 })).toThrow(
      /addTarget\(\) argument "target.weight" must be a positive/,
    );
    expect(() => lb.addTarget('ftp://127.0.0.1:1')).toThrow(TypeError);
    expect(() => lb.addTarget(`${upstreams[0]!.url}/`)).toThrow(/is already a target/);
    expect(() => lb.addTarget(42 as unknown as string)).toThrow(TypeError);
    expect(lb.targets()).toHaveLength(1);
  });

  it('rejects removeTarget of an unknown or invalid target with a TypeError', async () => {
    const { lb } = await start(['a'], 1);
    await expect(lb.removeTarget('http://127.0.0.1:1')).rejects.toThrow(/removeTarget\(\): http:\/\/127.0.0.1:1 is not a target/);
    await expect(lb.removeTarget('nope')).rejects.toBeInstanceOf(TypeError);
    expect(lb.targets()).toHaveLength(1);
  });

  it('sends the very next request to an added target', async () => {
    const { lb, url } = await start(['a', 'b', 'c'], 2);
    expect(await answers(url, 2)).toBe('a b');
    lb.addTarget({ url: upstreams[2]!.url, weight: 1 });
    expect(lb.targets().map((t) => t.url)).toEqual(upstreams.map((u) => u.url));
    expect(await answers(url, 3)).toBe('a b c');
  });

  it('stops new picks at once on removal and resolves when the in-flight requests have finished', async () => {
    const { lb, url } = await start(['a', 'b'], 1);
    const slow = [request(url, { path: '/slow' }), request(url, { path: '/slow' })];
    await holder.arrived(2);
    lb.addTarget(upstreams[1]!.url);

    let removed = false;
    const removal = lb.removeTarget(upstreams[0]!.url).then(() => {
      removed = true;
    });
    expect(lb.targets().map((t) => t.url)).toEqual([upstreams[1]!.url]);
    expect(await answers(url, 4)).toBe('b b b b');

    holder.releaseOne();
    expect((await slow[0]!).text).toBe('released by a');
    expect(removed).toBe(false);
    // Removing it again while it drains gives the same wait, not an error.
    const again = lb.removeTarget(upstreams[0]!.url);
    holder.releaseOne();
    expect((await slow[1]!).text).toBe('released by a');
    await removal;
    await again;
    expect(removed).toBe(true);
    expect(upstreams[0]!.seen.map((r) => r.url)).toEqual(['/slow', '/slow']);
  });

  it('resolves removal at once when nothing is in flight, and answers 503 with no target left', async () => {
    const { lb, url } = await start(['a'], 1);
    await lb.removeTarget(upstreams[0]!.url);
    const res = await request(url);
    expect(res.status).toBe(503);
    lb.addTarget(upstreams[0]!.url);
    expect((await request(url)).status).toBe(200);
    // A target added again starts with fresh counters.
    expect(lb.targets()[0]).toMatchObject({ requests: 1, inFlight: 0, failures: 0 });
  });

  const strategies: StrategyName[] = ['round-robin', 'random', 'least-connections', 'power-of-two', 'consistent-hash', 'peak-ewma'];
  it.each(strategies)('%s: no request fails across an add and a removal under 20 concurrent requests', async (strategy) => {
    const options = strategy === 'consistent-hash' ? { strategy, hashKey: (req: Request) => req.get('x-key') } : { strategy };
    const { lb, url } = await start(['a', 'b', 'c', 'd'], 3, options);
    const removedUrl = upstreams[1]!.url;
    let removedAt = -1;
    let sentAfterRemoval = 0;
    lb.on('proxyReq', ({ target, attempt }) => {
      if (removedAt !== -1 && attempt === 1 && target.url === removedUrl) sentAfterRemoval++;
    });
    let removal: Promise<void> | undefined;
    const results = await runConcurrently(200, 20, (i) => {
      if (i === 50) lb.addTarget(upstreams[3]!.url);
      if (i === 100) {
        removal = lb.removeTarget(removedUrl);
        removedAt = i;
      }
      return request(url, { headers: { 'x-key': `k${i}` } });
    });
    await removal;
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    expect(balanced!.errors).toEqual([]);
    expect(sentAfterRemoval).toBe(0);
    expect(upstreams[3]!.seen.length).toBeGreaterThan(0);
    expect(lb.targets().map((t) => t.url)).toEqual([upstreams[0]!.url, upstreams[2]!.url, upstreams[3]!.url]);
    expect(lb.targets().every((t) => t.inFlight === 0)).toBe(true);
  });
});
