import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { HealthCheckOptions, LoadBalanceMiddleware } from 'express-load-balance';
import { nextEvent } from './helpers/events';
import { FakeClock, fakeRuntime } from './helpers/fake-clock';
import { startProbed, type ProbedUpstream } from './helpers/health';
import { closeAll, deadUrl, request, startBalancer, type Balanced } from './helpers/servers';

// Short enough that a state change takes a few tens of ms; the thresholds stay at 2 so
// a single probe result never decides. The timeout is generous: a busy test machine must
// not fail the probes of a healthy target.
const FAST: HealthCheckOptions = { path: '/health', interval: 50, timeout: 2_000, healthyThreshold: 2, unhealthyThreshold: 2 };

let upstreams: ProbedUpstream[] = [];
let balanced: Balanced | undefined;
afterEach(async () => {
  await closeAll(balanced, ...upstreams);
  balanced = undefined;
  upstreams = [];
});

async function start(
  names: string[],
  healthCheck: HealthCheckOptions | true = FAST,
  health: Array<number | 'hang'> = [],
): Promise<Balanced> {
  upstreams = await Promise.all(names.map((name, i) => startProbed(name, health[i] ?? 200)));
  // Outlier detection off: only the probes decide here.
  balanced = await startBalancer({ targets: upstreams.map((u) => u.url), healthCheck, outlierDetection: false });
  return balanced;
}

/** Sends `count` requests one after the other and returns who answered each. */
async function work(count: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await request(balanced!.url, { path: '/work' });
    answers.push(`${res.status} ${res.text}`);
  }
  return answers;
}

function healthOf(lb: LoadBalanceMiddleware): Record<string, boolean> {
  return Object.fromEntries(lb.targets().map((t) => [upstreams.find((u) => u.url === t.url)!.name, t.healthy]));
}

describe('active health checks', () => {
  it('takes a target down after unhealthyThreshold failed probes, and back after healthyThreshold passing ones', async () => {
    const { lb } = await start(['a', 'b'], FAST, [500, 200]);
    const [a] = upstreams as [ProbedUpstream];

    const down = await nextEvent(lb, 'targetDown', a.url);
    expect(down.reason).toBe('health-check');
    expect(a.probes).toHaveLength(2);
    expect(healthOf(lb)).toEqual({ a: false, b: true });
    expect(await work(6)).toEqual(Array(6).fill('200 b'));
    expect(a.traffic).toBe(0);

    a.health = 200;
    const failedProbes = a.probes.length;
    const up = await nextEvent(lb, 'targetUp', a.url);
    expect(up.reason).toBe('health-check');
    expect(a.probes.length - failedProbes).toBe(2);
    expect(healthOf(lb)).toEqual({ a: true, b: true });
    expect((await work(4)).sort()).toEqual(['200 a', '200 a', '200 b', '200 b']);
  });

  it('takes down a target whose server is gone, and brings it back when it listens on its port again', async () => {
    const { lb } = await start(['a', 'b']);
    const [a] = upstreams as [ProbedUpstream];
    await a.probed(1);

    const down = nextEvent(lb, 'targetDown', a.url);
    await a.stop();
    expect((await down).reason).toBe('health-check');
    expect(await work(4)).toEqual(Array(4).fill('200 b'));

    const up = nextEvent(lb, 'targetUp', a.url);
    await a.start();
    await up;
    expect(await work(4)).toContain('200 a');
  });

  it('probes the configured path on a new connection each time, with Connection: close', async () => {
    await start(['a'], { ...FAST, path: '/ready?deep=1' });
    const [a] = upstreams as [ProbedUpstream];
    await a.probed(4);
    const probes = a.probes.slice(0, 4);
    expect(probes.map((p) => p.url)).toEqual(Array(4).fill('/ready?deep=1'));
    expect(probes.map((p) => p.connection)).toEqual(Array(4).fill('close'));
    expect(new Set(probes.map((p) => p.socket)).size).toBe(4);
  });

  it.each`
    status | expectStatus  | range                   | down
    ${302} | ${[200, 204]} | ${'[200, 204]'}         | ${true}
    ${204} | ${[200, 204]} | ${'[200, 204]'}         | ${false}
    ${302} | ${undefined}  | ${'default [200, 399]'} | ${false}
    ${404} | ${undefined}  | ${'default [200, 399]'} | ${true}
  `(
    'a target whose probes get $status with expectStatus $range: down $down',
    async ({
      status,
      expectStatus,
      down,
    }: {
      status: number;
      expectStatus: HealthCheckOptions['expectStatus'];
      range: string;
      down: boolean;
    }) => {
      const { lb } = await start(['a', 'b'], expectStatus === undefined ? FAST : { ...FAST, expectStatus }, [status, 200]);
      const [a] = upstreams as [ProbedUpstream];
      let wentDown = false;
      lb.on('targetDown', () => {
        wentDown = true;
      });
      // Four probes: twice the threshold, so a target that should go down has.
      await a.probed(4);
      // The fourth probe's answer is reported once its response arrives: wait for the fifth.
      await a.probed(5);
      expect(wentDown).toBe(down);
      expect(healthOf(lb).a).toBe(!down);
    },
  );

  it('counts a probe that hangs past healthCheck.timeout as failed, and closes its connection', async () => {
    const { lb } = await start(['a', 'b'], { ...FAST, timeout: 100 }, ['hang', 200]);
    const [a] = upstreams as [ProbedUpstream];
    await a.probed(1);
    const firstProbeClosed = once(a.probes[0]!.socket, 'close');
    await nextEvent(lb, 'targetDown', a.url);
    await firstProbeClosed;
    expect(a.probes).toHaveLength(2);
  });

  describe('on the injected clock', () => {
    const INTERVAL = 1_000;
    const TIMEOUT = 5_000;

    /**
     * One target probed every INTERVAL ms of a fake clock whose random source says what
     * `draws` holds; `delays` collects every probe delay the checks set on it.
     */
    async function onClock(draws: number[]): Promise<{ clock: FakeClock; delays: number[]; a: ProbedUpstream }> {
      const clock = new FakeClock();
      const delays: number[] = [];
      const set = clock.setTimeout.bind(clock);
      clock.setTimeout = (callback, ms) => {
        if (ms !== TIMEOUT) delays.push(ms);
        return set(callback, ms);
      };
      upstreams = [await startProbed('a')];
      const runtime = fakeRuntime(clock, () => draws.shift() ?? 0.5);
      const healthCheck = { ...FAST, interval: INTERVAL, timeout: TIMEOUT };
      balanced = await startBalancer({ targets: [upstreams[0]!.url], healthCheck, outlierDetection: false }, { runtime });
      return { clock, delays, a: upstreams[0]! };
    }

    /** Moves the clock to the next probe and waits until its answer is in and the one after it is scheduled. */
    async function nextProbe(clock: FakeClock, delays: number[]): Promise<void> {
      const scheduled = clock.timersSet(1, (ms) => ms !== TIMEOUT);
      clock.advance(delays.at(-1)!);
      await scheduled;
    }

    it('jitters each interval by ±10 %, so targets and balancers do not probe in lockstep', async () => {
      // The first probe comes at a random point of the first interval; then each random
      // draw r gives interval × (0.9 + 0.2 r).
      const { clock, delays, a } = await onClock([0.25, 0, 0.5, 1]);
      for (let i = 0; i < 3; i++) await nextProbe(clock, delays);
      expect(delays).toEqual([250, 900, 1_000, 1_100]);
      expect(a.probes).toHaveLength(3);
    });

    it('stops probing on lb.close(), the next probe already scheduled included', async () => {
      const { clock, delays, a } = await onClock([]);
      await nextProbe(clock, delays);
      await nextProbe(clock, delays);
      expect(a.probes).toHaveLength(2);
      await balanced!.lb.close();
      // Every probe starts from a timer on this clock: with none left, none can come.
      expect(clock.pending).toBe(0);
    });
  });

  it('never keeps a process alive: its timers are unref()ed', async () => {
    const good = await startProbed('good');
    upstreams = [good];
    const refused = await deadUrl();
    let child: ChildProcess | undefined;
    try {
      child = spawn(
        process.execPath,
        ['--require', 'tsx/cjs', path.join(__dirname, 'helpers/health-check-process.ts'), refused, good.url],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      const exited = once(child, 'exit');
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const port = /listening (\d+)/.exec(line.toString())![1]!;
      // The first request meets the refusing target, is retried on the good one, and
      // ejects the refusing one for a minute: an ejection timer is pending as well.
      expect((await request(`http://127.0.0.1:${port}`, { path: '/work' })).text).toBe('good');
      expect((await request(`http://127.0.0.1:${port}`, { path: '/work' })).text).toBe('good');
      await good.probed(2);
      child.stdin!.end();
      // Bounded: a process held by a timer would otherwise keep this test waiting.
      const outcome = await Promise.race([
        exited.then(([code]) => `exited ${code}`),
        delay(5_000, 'still running 5 s after its server closed'),
      ]);
      expect(outcome).toBe('exited 0');
    } finally {
      if (child?.exitCode === null) child.kill();
    }
  });

  it('forwards to every target when all are down (panic mode), and succeeds where one answers', async () => {
    const { lb } = await start(['a', 'b'], FAST, [500, 500]);
    const [a, b] = upstreams as [ProbedUpstream, ProbedUpstream];
    await Promise.all([nextEvent(lb, 'targetDown', a.url), nextEvent(lb, 'targetDown', b.url)]);
    expect(healthOf(lb)).toEqual({ a: false, b: false });
    expect((await work(4)).sort()).toEqual(['200 a', '200 a', '200 b', '200 b']);

    // One of them really is gone: its share is retried on the other.
    await a.stop();
    expect(await work(4)).toEqual(Array(4).fill('200 b'));
    expect(b.traffic).toBe(6);
  });

  it('probes a target added later, and stops probing one removed', async () => {
    const { lb } = await start(['a']);
    const [a] = upstreams as [ProbedUpstream];
    const b = await startProbed('b', 500);
    upstreams.push(b);

    lb.addTarget(b.url);
    await nextEvent(lb, 'targetDown', b.url);
    await lb.removeTarget(b.url);
    // a's probes are the clock: two of them let any probe of b already on its way arrive.
    await a.probed(a.probes.length + 2);
    const probesOfB = b.probes.length;
    await a.probed(a.probes.length + 6);
    expect(b.probes.length).toBe(probesOfB);
  });
});
