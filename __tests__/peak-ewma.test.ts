import { fakeRuntime, type FakeClock } from './helpers/fake-clock';
import { closeAll, closedPort, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

const FAST_MS = 1;
const SLOW_MS = 200;

/** A random source that spreads its draws evenly over [0, 1), the same on every run. */
function evenDraws(): () => number {
  let n = 0;
  return () => (++n * 0.618_033_988_75) % 1;
}

describe('peak-ewma', () => {
  let clock: FakeClock;
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  /** Upstreams whose answers take {@link SLOW_MS} of fake time; the others take {@link FAST_MS}. */
  const slow = new Set<string>();
  beforeEach(() => {
    clock = fakeRuntime().clock;
    slow.clear();
  });
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  /** Upstreams whose latency passes on the balancer's fake clock while they handle a request. */
  function startTimed(names: string[]): Promise<Upstream[]> {
    return Promise.all(
      names.map((name) =>
        startUpstream(name, (app) => {
          app.use((_req, _res, next) => {
            clock.advance(slow.has(name) ? SLOW_MS : FAST_MS);
            next();
          });
        }),
      ),
    );
  }

  async function balance(ewmaWindow: number): Promise<Balanced> {
    const runtime = { clock, random: evenDraws() };
    return startBalancer({ targets: upstreams.map((u) => u.url), strategy: 'peak-ewma', ewmaWindow }, { runtime });
  }

  it('stops sending to a target within a request or two of it turning slow', async () => {
    upstreams = await startTimed(['a', 'b', 'c']);
    balanced = await balance(500);
    const countB = (): number => upstreams[1]!.seen.length;

    for (let i = 0; i < 30; i++) expect((await request(balanced.url)).status).toBe(200);
    expect(countB()).toBeGreaterThan(0);

    slow.add('b');
    const before = countB();
    for (let i = 0; i < 300 && countB() === before; i++) await request(balanced.url);
    expect(countB()).toBe(before + 1);
    // That one slow answer lifted b's estimate to ~200 ms at once; a and c answer in 1 ms.
    expect(balanced.lb.targets()[1]!.ewmaMs).toBeGreaterThan(SLOW_MS / 2);
    for (let i = 0; i < 30; i++) expect((await request(balanced.url)).status).toBe(200);
    expect(countB() - before).toBeLessThanOrEqual(2);
  });

  it('does not mistake a target that refuses connections at once for a fast one', async () => {
    upstreams = await startTimed(['a', 'b']);
    // A window far longer than the test's fake time, so a failure's estimate (counted as
    // the 30 s timeout) cannot fade within it.
    balanced = await balance(60_000);
    for (let i = 0; i < 30; i++) await request(balanced.url);
    // Refused in 0 ms of fake time: faster than a and b's 1 ms, at face value.
    const deadUrl = `http://127.0.0.1:${await closedPort()}`;
    balanced.lb.addTarget(deadUrl);
    for (let i = 0; i < 100; i++) expect((await request(balanced.url)).status).toBe(200);
    const dead = balanced.lb.targets().find((target) => target.url === deadUrl)!;
    // Retries turn each failed try into a 200, so count the tries: its first failure,
    // counted as slow as a timeout, is its last (at face value it is tried again and again).
    expect(dead.requests).toBe(1);
    expect(dead.ewmaMs).toBeGreaterThan(SLOW_MS);
  });
});
