import type { LoadBalanceOptions } from 'express-load-balance';
import type { Level } from '../src/balancing/pool';
import { priorityLoad } from '../src/balancing/selection';
import type { TargetState } from '../src/balancing/target';
import { FakeClock } from './helpers/fake-clock';
import { seededRandom } from './helpers/hold';
import { answeredBy, closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

/** A level of `size` targets of which `open` have room, as priorityLoad() reads it. */
function level(size: number, open: number): { level: Level; open: TargetState[] } {
  const targets = Array.from({ length: size }, () => ({}) as TargetState);
  return { level: { priority: 0, targets, usable: targets.slice(0, open) }, open: targets.slice(0, open) };
}

describe('the priority load (Envoy, overprovisioning factor 1.4)', () => {
  it.each([
    { primaries: [4, 4], backup: [1, 1], loads: [1, 0], why: 'all primaries usable: the backup gets nothing' },
    { primaries: [4, 3], backup: [1, 1], loads: [1, 0], why: '3 of 4 usable: 0.75 × 1.4 ≥ 1' },
    { primaries: [4, 2], backup: [1, 1], loads: [0.7, 0.3], why: '2 of 4: the primaries keep 70 %' },
    { primaries: [4, 1], backup: [1, 1], loads: [0.35, 0.65], why: '1 of 4: 35 %' },
    { primaries: [4, 0], backup: [1, 1], loads: [0, 1], why: 'none: everything to the backup' },
    { primaries: [4, 1], backup: [4, 1], loads: [0.5, 0.5], why: 'together under 100 %: scaled up (0.35 + 0.35)' },
    { primaries: [4, 0], backup: [2, 0], loads: [0, 0], why: 'nothing usable anywhere' },
  ])('$why', ({ primaries, backup, loads }) => {
    const a = level(primaries[0]!, primaries[1]!);
    const b = level(backup[0]!, backup[1]!);
    const got = priorityLoad([a.level, b.level], [a.open, b.open]);
    expect(got.map((load) => Number(load.toFixed(6)))).toEqual(loads);
  });
});

describe('priority levels', () => {
  let upstreams: Array<Upstream & { down: boolean }> = [];
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  /** Upstreams whose /health answers 503 while `down`. */
  async function startUpstreams(...names: string[]): Promise<Array<Upstream & { down: boolean }>> {
    upstreams = await Promise.all(
      names.map(async (name) => {
        const upstream: Upstream & { down: boolean } = Object.assign(
          await startUpstream(name, (app) => app.get('/health', (_req, res) => void res.status(upstream.down ? 503 : 200).end())),
          { down: false },
        );
        return upstream;
      }),
    );
    return upstreams;
  }

  /** Answers of `count` requests, by upstream name. */
  async function shares(count: number): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (let i = 0; i < count; i++) {
      const name = answeredBy(await request(balanced!.url));
      counts[name] = (counts[name] ?? 0) + 1;
    }
    return counts;
  }

  /**
   * Moves the fake clock over one probe interval (1 s, jittered by ±10 %) and waits
   * until every target was probed and has its next probe scheduled.
   */
  async function probe(clock: FakeClock): Promise<void> {
    const probed = clock.timersSet(balanced!.lb.targets().length, (ms) => ms >= 900 && ms <= 1_100);
    clock.advance(1_100);
    await probed;
  }

  it('sends a backup nothing while the primaries are usable, spills by the 1.4 rule, and stops once they are back', async () => {
    const [p1, p2, p3, p4, backup] = await startUpstreams('p1', 'p2', 'p3', 'p4', 'backup');
    const clock = new FakeClock();
    const options: LoadBalanceOptions = {
      targets: [p1!.url, p2!.url, p3!.url, p4!.url, { url: backup!.url, backup: true }],
      healthCheck: { interval: 1_000, healthyThreshold: 1, unhealthyThreshold: 1 },
      outlierDetection: false,
    };
    balanced = await startBalancer(options, { runtime: { clock, random: seededRandom(7) } });
    expect(balanced.lb.targets().map((t) => t.priority)).toEqual([0, 0, 0, 0, 1]);
    await probe(clock);
    expect((await shares(100)).backup).toBeUndefined();

    // Down one at a time: the backup's share follows 0, 30 %, 65 %, 100 %.
    const expected = [0, 0.3, 0.65, 1];
    for (const [i, primary] of [p1!, p2!, p3!, p4!].entries()) {
      primary.down = true;
      await probe(clock);
      const backupShare = ((await shares(400)).backup ?? 0) / 400;
      expect(backupShare).toBeGreaterThanOrEqual(Math.max(0, expected[i]! - 0.07));
      expect(backupShare).toBeLessThanOrEqual(Math.min(1, expected[i]! + 0.07));
    }
    expect(balanced.lb.stats().panic).toBe(false);

    for (const primary of [p1!, p2!, p3!, p4!]) primary.down = false;
    await probe(clock);
    expect((await shares(100)).backup).toBeUndefined();
  });

  it('goes to panic mode only once no level has a usable target', async () => {
    const [primary, backup] = await startUpstreams('primary', 'backup');
    const clock = new FakeClock();
    balanced = await startBalancer(
      {
        targets: [primary!.url, { url: backup!.url, priority: 3 }],
        healthCheck: { interval: 1_000, healthyThreshold: 1, unhealthyThreshold: 1 },
        outlierDetection: false,
      },
      { runtime: { clock, random: seededRandom(3) } },
    );
    primary!.down = true;
    await probe(clock);
    expect(balanced.lb.stats().panic).toBe(false);
    expect(await shares(10)).toEqual({ backup: 10 });
    backup!.down = true;
    await probe(clock);
    expect(balanced.lb.stats().panic).toBe(true);
    expect(Object.keys(await shares(20)).sort()).toEqual(['backup', 'primary']);
  });

  it('keeps consistent-hash keys on the lowest level with room', async () => {
    const [a, b, backup] = await startUpstreams('a', 'b', 'backup');
    const clock = new FakeClock();
    balanced = await startBalancer(
      {
        targets: [a!.url, b!.url, { url: backup!.url, backup: true }],
        strategy: 'consistent-hash',
        hashKey: (req) => req.get('x-key'),
        healthCheck: { interval: 1_000, healthyThreshold: 1, unhealthyThreshold: 1 },
        outlierDetection: false,
      },
      { runtime: { clock, random: seededRandom(5) } },
    );
    a!.down = true;
    await probe(clock);
    // 1 of 2 primaries usable: the 1.4 rule would send 30 % to the backup; keyed requests stay on b.
    for (let key = 0; key < 40; key++) {
      expect(answeredBy(await request(balanced.url, { headers: { 'x-key': `k${key}` } }))).toBe('b');
    }
  });
});
