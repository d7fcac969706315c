import { FakeClock } from './helpers/fake-clock';
import { seededRandom } from './helpers/hold';
import { answeredBy, closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

describe('slow start', () => {
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  /** Sends `count` requests, moving the clock `stepMs` after each; counts the answers by upstream. */
  async function countAnswers(clock: FakeClock, count: number, stepMs: number): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
      const name = answeredBy(await request(balanced!.url));
      counts[name] = (counts[name] ?? 0) + 1;
      clock.advance(stepMs);
    }
    return counts;
  }

  it.each(['round-robin', 'random', 'least-connections', 'power-of-two'] as const)(
    '%s: a target added under load gets under 20 %% of its fair share over the first tenth of the window, all of it after',
    async (strategy) => {
      upstreams = await Promise.all(['a', 'b', 'c'].map((name) => startUpstream(name)));
      const [a, b, c] = upstreams;
      const clock = new FakeClock();
      const random = seededRandom(11);
      balanced = await startBalancer({ targets: [a!.url, b!.url], strategy, slowStart: 10_000 }, { runtime: { clock, random } });
      expect(balanced.lb.targets().map((t) => t.effectiveWeight)).toEqual([1, 1]);

      balanced.lb.addTarget(c!.url);
      expect(balanced.lb.targets()[2]).toMatchObject({ weight: 1, effectiveWeight: 0.1 });
      // 600 requests over the first second of a 10 s window: a fair share would be 200.
      const early = await countAnswers(clock, 600, 1_000 / 600);
      expect(early.c ?? 0).toBeGreaterThan(0);
      expect(early.c ?? 0).toBeLessThanOrEqual(40);

      clock.advance(9_001);
      expect(balanced.lb.targets()[2]!.effectiveWeight).toBe(1);
      const later = await countAnswers(clock, 300, 1);
      expect(later.c).toBeGreaterThanOrEqual(80);
      expect(later.c).toBeLessThanOrEqual(120);
    },
  );

  it('leaves consistent-hash alone: a new target takes its keys at once', async () => {
    upstreams = await Promise.all(['a', 'b'].map((name) => startUpstream(name)));
    const clock = new FakeClock();
    balanced = await startBalancer(
      { targets: [upstreams[0]!.url], strategy: 'consistent-hash', hashKey: (req) => req.get('x-key'), slowStart: 10_000 },
      { runtime: { clock, random: () => 0.5 } },
    );
    balanced.lb.addTarget(upstreams[1]!.url);
    let b = 0;
    for (let key = 0; key < 200; key++) if (answeredBy(await request(balanced.url, { headers: { 'x-key': `k${key}` } })) === 'b') b++;
    // Rendezvous hashing over two equal weights: about half the keys, not a tenth of that.
    expect(b).toBeGreaterThan(70);
  });
});
