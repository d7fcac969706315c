import express from 'express';
import type { Request } from 'express';
import { runConcurrently } from './helpers/hold';
import { answeredBy, answers, closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

const KEYS = Array.from({ length: 300 }, (_, i) => `user-${i}`);
const byUserId = (req: Request): string | undefined => req.get('x-user-id');

describe('consistent-hash', () => {
  let upstreams: Upstream[] = [];
  let balancers: Balanced[] = [];
  afterEach(async () => {
    await closeAll(...balancers, ...upstreams);
    balancers = [];
    upstreams = [];
  });

  async function startUpstreams(names: string[]): Promise<void> {
    upstreams = await Promise.all(names.map((name) => startUpstream(name)));
  }

  async function balancer(urls: string[], options: object = { hashKey: byUserId }, app = express()): Promise<Balanced> {
    const started = await startBalancer({ targets: urls, strategy: 'consistent-hash', ...options }, { app });
    balancers.push(started);
    return started;
  }

  /** key -> name of the upstream that answered it. */
  async function mapping(front: Balanced): Promise<Map<string, string>> {
    const answers = await runConcurrently(KEYS.length, 20, (i) => request(front.url, { headers: { 'x-user-id': KEYS[i]! } }));
    return new Map(answers.map((res, i) => [KEYS[i]!, answeredBy(res)]));
  }

  function moved(before: Map<string, string>, after: Map<string, string>): string[] {
    return KEYS.filter((key) => before.get(key) !== after.get(key));
  }

  it('sends a key to the same target every time, and two balancers agree on it', async () => {
    await startUpstreams(['a', 'b', 'c', 'd']);
    const urls = upstreams.map((u) => u.url);
    const first = await balancer(urls);
    const once = await mapping(first);
    expect(await mapping(first)).toEqual(once);
    expect(await mapping(await balancer(urls))).toEqual(once);
    expect(new Set(once.values()).size).toBe(4);
  });

  it('moves only the keys the new target takes when one is added live, and moves them back when it leaves', async () => {
    await startUpstreams(['a', 'b', 'c', 'd', 'e']);
    const front = await balancer(upstreams.slice(0, 4).map((u) => u.url));
    const before = await mapping(front);

    front.lb.addTarget(upstreams[4]!.url);
    const added = await mapping(front);
    const keysMoved = moved(before, added);
    expect(keysMoved.length).toBeGreaterThan(0);
    expect(keysMoved.length).toBeLessThanOrEqual(KEYS.length * (1 / 5 + 0.1));
    expect(keysMoved.every((key) => added.get(key) === 'e')).toBe(true);

    await front.lb.removeTarget(upstreams[4]!.url);
    expect(await mapping(front)).toEqual(before);
  });

  it('moves only the removed target keys when one is removed', async () => {
    await startUpstreams(['a', 'b', 'c', 'd']);
    const front = await balancer(upstreams.map((u) => u.url));
    const before = await mapping(front);
    await front.lb.removeTarget(upstreams[1]!.url);
    const after = await mapping(front);
    const keysMoved = moved(before, after);
    expect(keysMoved.length).toBeLessThanOrEqual(KEYS.length * (1 / 4 + 0.1));
    expect(keysMoved.every((key) => before.get(key) === 'b')).toBe(true);
    expect([...after.values()]).not.toContain('b');
  });

  it('hashes by client IP by default, honouring trust proxy', async () => {
    await startUpstreams(['a', 'b', 'c']);
    const plain = await balancer(
      upstreams.map((u) => u.url),
      {},
    );
    const fromOneClient = new Set<string>();
    for (let i = 0; i < 12; i++) fromOneClient.add((await request(plain.url)).text);
    expect(fromOneClient.size).toBe(1);

    const app = express();
    app.set('trust proxy', true);
    const proxied = await balancer(
      upstreams.map((u) => u.url),
      {},
      app,
    );
    const answers = await runConcurrently(60, 10, (i) => request(proxied.url, { headers: { 'x-forwarded-for': `10.0.0.${i}` } }));
    expect(new Set(answers.map((r) => r.text)).size).toBe(3);
    const again = await request(proxied.url, { headers: { 'x-forwarded-for': '10.0.0.7' } });
    expect(again.text).toBe(answers[7]!.text);
  });

  it('balances requests without a key by round robin', async () => {
    await startUpstreams(['a', 'b', 'c']);
    const front = await balancer(upstreams.map((u) => u.url));
    expect(await answers(front.url, 6)).toBe('a b c a b c');
  });
});
