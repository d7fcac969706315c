// Hedged requests (the `hedge` option): a late GET goes to a second target too, the first
// response head wins, the other attempt is cut. Real upstreams on 127.0.0.1 hold their
// answers until the test releases them; the hedge delay runs on the fake clock.
import { once } from 'node:events';
import http from 'node:http';
import express from 'express';
import {
  loadBalance,
  type StrategyFunction,
  type HedgeEvent,
  type LoadBalanceOptions,
  type ProxyReqEvent,
  type RetryEvent,
} from 'express-load-balance';
import { AttemptWindow } from '../src/observability/attempt-window';
import { RECENT_LATENCY_REFRESH_MS, RecentLatency } from '../src/observability/recent-latency';
import { prometheusMetrics } from '../src/prometheus';
import { Registry } from 'prom-client';
import { endings } from './helpers/events';
import { FakeClock, fakeRuntime } from './helpers/fake-clock';
import { Holder } from './helpers/hold';
import { closeAll, first, listen, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

const DELAY = 100;

describe('hedged requests', () => {
  let clock: FakeClock;
  let holder: Holder;
  let upstreams: Upstream[];
  let balanced: Balanced;
  let sent: ProxyReqEvent[];
  let hedges: HedgeEvent[];
  let retries: RetryEvent[];

  /** Upstreams a, b (and c…) holding `/slow`, behind a balancer whose strategy always picks the first target offered. */
  async function start(names: readonly string[], options: Omit<LoadBalanceOptions, 'targets'>): Promise<void> {
    holder = new Holder();
    upstreams = await holder.startUpstreams(names);
    balanced = await startBalancer(
      { targets: upstreams.map((u) => u.url), strategy: first, outlierDetection: false, ...options },
      { runtime: fakeRuntime(clock) },
    );
    sent = [];
    hedges = [];
    retries = [];
    balanced.lb.on('proxyReq', (event) => sent.push(event));
    balanced.lb.on('hedge', (event) => hedges.push(event));
    balanced.lb.on('retry', (event) => retries.push(event));
  }

  /** The upstreams that got a request, in order. */
  const sentTo = (): string[] => sent.map((event) => upstreams.find((u) => u.url === event.target.url)!.name);
  const inFlight = (): number[] => balanced.lb.targets().map((t) => t.inFlight);
  const closed = (res: http.ServerResponse): Promise<unknown> => (res.destroyed ? Promise.resolve() : once(res, 'close'));

  beforeEach(() => {
    clock = new FakeClock();
  });
  afterEach(async () => {
    holder?.releaseAll();
    await closeAll(balanced, ...(upstreams ?? []));
  });

  it('sends the same GET to a second target exactly `delay` ms after the first, and the first head to arrive wins', async () => {
    await start(['a', 'b', 'c'], { hedge: { delay: DELAY } });
    const ends = endings(balanced.lb);
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);

    clock.advance(DELAY - 1);
    expect(sentTo()).toEqual(['a']);
    clock.advance(1);
    expect(sentTo()).toEqual(['a', 'b']);
    expect(hedges.map((e) => [e.target.url, e.next.url, e.delayMs])).toEqual([[upstreams[0]!.url, upstreams[1]!.url, DELAY]]);
    expect(sent.map((e) => e.attempt)).toEqual([1, 2]);

    await holder.arrived(2);
    const [aHeld] = holder.responses;
    holder.release('b');
    const response = await answer;
    expect(response.status).toBe(200);
    expect(response.text).toBe('released by b');
    // The loser's upstream sees its connection close at once, and its slot is given back.
    await closed(aHeld!);
    await ends.count(2);
    expect(ends.events.map((e) => [e.target.url, e.result])).toEqual([
      [upstreams[0]!.url, 'hedge-lost'],
      [upstreams[1]!.url, 'response'],
    ]);
    expect(inFlight()).toEqual([0, 0, 0]);
    expect(balanced.lb.stats().hedge).toEqual({ sent: 1, won: 1, delayMs: DELAY });
    // A hedge that lost says nothing about its target: no failure, and its cut-short
    // duration feeds neither the stats window (whose percentile a hedge delay follows)
    // nor the latency estimate.
    expect(balanced.lb.targets().map((t) => t.failures)).toEqual([0, 0, 0]);
    expect(balanced.lb.stats().targets.map((t) => t.recent.requests)).toEqual([0, 1, 0]);
    expect(balanced.lb.targets()[0]!.ewmaMs).toBe(0);
    expect(balanced.errors).toEqual([]);
  });

  it("forwards the first attempt's answer when it comes before the hedge's, and cuts the hedge", async () => {
    await start(['a', 'b'], { hedge: { delay: DELAY } });
    const ends = endings(balanced.lb);
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    clock.advance(DELAY);
    await holder.arrived(2);
    const bHeld = holder.responses[1]!;
    holder.release('a');
    expect((await answer).text).toBe('released by a');
    await closed(bHeld);
    await ends.count(2);
    expect(ends.events.map((e) => e.result).sort()).toEqual(['hedge-lost', 'response']);
    expect(balanced.lb.stats().hedge).toEqual({ sent: 1, won: 0, delayMs: DELAY });
    expect(inFlight()).toEqual([0, 0]);
  });

  it('is off without the option: no timer, one attempt however late the answer', async () => {
    await start(['a', 'b'], {});
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(sentTo()).toEqual(['a']);
    holder.release('a');
    expect((await answer).status).toBe(200);
    expect(balanced.lb.stats().hedge).toBeUndefined();
  });

  it('sends no hedge when the answer comes in time: the timer is cancelled with the head', async () => {
    await start(['a', 'b'], { hedge: { delay: DELAY } });
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    expect(clock.pending).toBe(1);
    holder.release('a');
    expect((await answer).status).toBe(200);
    expect(clock.pending).toBe(0);
    clock.advance(DELAY * 10);
    expect(sentTo()).toEqual(['a']);
    expect(balanced.lb.stats().hedge?.sent).toBe(0);
  });

  it('sends up to `max` hedges, one `delay` after the other, each to a target not tried yet', async () => {
    await start(['a', 'b', 'c', 'd'], { hedge: { delay: DELAY, max: 2 } });
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    clock.advance(DELAY);
    expect(sentTo()).toEqual(['a', 'b']);
    clock.advance(DELAY - 1);
    expect(sentTo()).toEqual(['a', 'b']);
    clock.advance(1);
    expect(sentTo()).toEqual(['a', 'b', 'c']);
    clock.advance(DELAY * 10);
    expect(sentTo()).toEqual(['a', 'b', 'c']);
    await holder.arrived(3);
    const cut = holder.responses.slice(0, 2).map(closed);
    holder.release('c');
    expect((await answer).text).toBe('released by c');
    await Promise.all(cut);
  });

  it('sends a hedge only to a usable target: none while the only other one rests after a Retry-After', async () => {
    holder = new Holder();
    const restRoute = (app: express.Express): void => {
      app.get('/rest', (_req, res) => void res.status(503).set('Retry-After', '60').send('resting'));
    };
    upstreams = [await startUpstream('a', holder.route('/slow', 'a')), await startUpstream('b', restRoute)];
    const toB: StrategyFunction = (targets, req) => (req.url === '/rest' ? targets[targets.length - 1] : targets[0]);
    balanced = await startBalancer(
      { targets: upstreams.map((u) => u.url), strategy: toB, outlierDetection: false, hedge: { delay: DELAY } },
      { runtime: fakeRuntime(clock) },
    );
    const lb = balanced.lb;
    expect((await request(balanced.url, { path: '/rest' })).status).toBe(503);
    expect(lb.targets().map((t) => t.resting)).toEqual([false, true]);
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    clock.advance(DELAY);
    expect(lb.stats().hedge?.sent).toBe(0);
    expect(lb.targets().map((t) => t.inFlight)).toEqual([1, 0]);
    holder.release('a');
    expect((await answer).status).toBe(200);
  });

  it.each([
    ['POST', { method: 'POST', body: 'x' }],
    ['DELETE', { method: 'DELETE' }],
    ['GET with a body', { method: 'GET', body: 'x' }],
  ])('never hedges a %s', async (_name, init) => {
    await start(['a', 'b'], { hedge: { delay: DELAY } });
    const answer = request(balanced.url, { path: '/slow', ...init });
    await holder.arrived(1);
    expect(clock.pending).toBe(0);
    clock.advance(DELAY * 10);
    expect(sentTo()).toEqual(['a']);
    holder.release('a');
    expect((await answer).status).toBe(200);
    expect(balanced.lb.stats().hedge?.sent).toBe(0);
  });

  it('hedges HEAD and OPTIONS', async () => {
    await start(['a', 'b'], { hedge: { delay: DELAY } });
    for (const method of ['HEAD', 'OPTIONS']) {
      const answer = request(balanced.url, { path: '/slow', method });
      await holder.arrived(1);
      clock.advance(DELAY);
      await holder.arrived(2);
      holder.release('b');
      expect((await answer).status).toBe(200);
      holder.releaseAll();
    }
    expect(balanced.lb.stats().hedge?.sent).toBe(2);
  });

  it('takes hedges from the retry budget: an empty budget sends none', async () => {
    // 0.1 retries a second over the 10 s window: room for exactly one hedge.
    await start(['a', 'b', 'c'], { hedge: { delay: DELAY }, retryBudget: { ratio: 0, minPerSecond: 0.1 } });
    const answers = [request(balanced.url, { path: '/slow' }), request(balanced.url, { path: '/slow' })];
    await holder.arrived(2);
    clock.advance(DELAY);
    expect(hedges).toHaveLength(1);
    expect(sent).toHaveLength(3);
    expect(clock.pending).toBe(0);
    holder.releaseAll();
    await Promise.all(answers);
    expect(balanced.lb.stats().hedge?.sent).toBe(1);
  });

  it('waits for the hedge when the first attempt fails meanwhile: no error, no retry on top', async () => {
    await start(['a', 'b', 'c'], { hedge: { delay: DELAY } });
    const ends = endings(balanced.lb);
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    clock.advance(DELAY);
    await holder.arrived(2);
    holder.responses[0]!.socket!.destroy();
    await ends.count(1);
    expect(ends.events[0]).toMatchObject({ target: { url: upstreams[0]!.url }, result: 'error' });
    expect(sentTo()).toEqual(['a', 'b']);
    holder.release('b');
    const response = await answer;
    expect(response.text).toBe('released by b');
    expect(retries).toEqual([]);
    expect(balanced.errors).toEqual([]);
  });

  it('retries once, on a target neither attempt tried, when both fail', async () => {
    await start(['a', 'b', 'c'], { hedge: { delay: DELAY }, retries: 1 });
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    clock.advance(DELAY);
    await holder.arrived(2);
    holder.responses[0]!.socket!.destroy();
    holder.responses[1]!.socket!.destroy();
    await holder.arrived(3);
    expect(sentTo()).toEqual(['a', 'b', 'c']);
    expect(retries.map((e) => [e.next.url, e.attempt])).toEqual([[upstreams[2]!.url, 3]]);
    holder.release('c');
    expect((await answer).text).toBe('released by c');
  });

  it('cuts every attempt and the pending hedge timer when the client leaves', async () => {
    await start(['a', 'b', 'c'], { hedge: { delay: DELAY, max: 2 } });
    const ends = endings(balanced.lb);
    const { hostname, port } = new URL(balanced.url);
    const req = http.get({ host: hostname, port, path: '/slow', agent: false });
    req.on('error', () => undefined);
    await holder.arrived(1);
    clock.advance(DELAY);
    await holder.arrived(2);
    expect(clock.pending).toBe(1);
    const held = holder.responses.map(closed);
    req.destroy();
    await Promise.all(held);
    await ends.count(2);
    expect(ends.events.map((e) => e.result)).toEqual(['aborted', 'aborted']);
    expect(clock.pending).toBe(0);
    expect(inFlight()).toEqual([0, 0, 0]);
    expect(balanced.errors).toEqual([]);
  });

  it('cuts both attempts when a drain reaches its deadline', async () => {
    await start(['a', 'b'], { hedge: { delay: DELAY } });
    const answer = request(balanced.url, { path: '/slow' });
    const broken = expect(answer).rejects.toThrow();
    await holder.arrived(1);
    clock.advance(DELAY);
    await holder.arrived(2);
    const held = holder.responses.map(closed);
    const closing = balanced.lb.close({ drain: 1_000 });
    clock.advance(1_000);
    await closing;
    await Promise.all(held);
    await broken;
    expect(inFlight()).toEqual([0, 0]);
  });

  it('with a percentile delay, hedges nothing until 50 attempts ended, then waits that percentile, at least 1 ms', async () => {
    await start(['a', 'b'], { hedge: { delay: 'p95' } });
    for (let i = 0; i < 49; i++) await request(balanced.url, { path: '/fast' });
    expect(balanced.lb.stats().hedge?.delayMs).toBeNull();
    const unhedged = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    expect(clock.pending).toBe(0);
    holder.releaseAll();
    await unhedged;
    // 50 attempts ended, all in 0 ms on the fake clock: the delay is the 1 ms floor, read again within a second.
    clock.advance(1_000);
    expect(balanced.lb.stats().hedge?.delayMs).toBe(1);
    const hedged = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    clock.advance(1);
    expect(hedges.map((e) => e.delayMs)).toEqual([1]);
    await holder.arrived(2);
    holder.releaseAll();
    expect((await hedged).status).toBe(200);
  });

  it('counts hedges and lost attempts in Prometheus and on the status page', async () => {
    await start(['a', 'b'], { hedge: { delay: DELAY } });
    const registry = new Registry();
    const metrics = prometheusMetrics(balanced.lb, { registry });
    const ends = endings(balanced.lb);
    const answer = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    clock.advance(DELAY);
    await holder.arrived(2);
    holder.release('b');
    await answer;
    await ends.count(2);
    const text = await registry.metrics();
    expect(text).toMatch(/^elb_hedges_total 1$/m);
    expect(text).toMatch(/^elb_requests_total\{target="[^"]+",method="GET",status_class="hedge-lost"\} 1$/m);
    metrics.close();
    const statusApp = express();
    statusApp.get('/', balanced.lb.statusHandler());
    const status = await listen(statusApp);
    try {
      const page = await request(status.url, { headers: { accept: 'text/html' } });
      expect(page.text).toContain('Hedging: 1 hedges sent, 1 answered first; delay 100.0 ms.');
    } finally {
      await status.close();
    }
  });
});

describe('the hedge option is checked at construction', () => {
  const targets = ['http://127.0.0.1:1'];

  it.each([
    ['hedge', true, 'must be false or an object'],
    ['hedge', 'p95', 'must be false or an object'],
    ['hedge', null, 'must be false or an object'],
    ['hedge.methods', { methods: ['POST'] }, 'is not a hedge setting (expected delay, max; only GET, HEAD and OPTIONS'],
    ['hedge.bodies', { delay: 5, bodies: true }, 'is not a hedge setting'],
    ['hedge.delay', { delay: 0 }, 'must be a positive, finite number'],
    ['hedge.delay', { delay: -5 }, 'must be a positive, finite number'],
    ['hedge.delay', { delay: 'p50' }, "must be a positive number of ms or 'p90', 'p95' or 'p99'"],
    ['hedge.delay', { delay: Number.NaN }, 'must be a positive, finite number'],
    ['hedge.delay', { delay: 2 ** 31 }, "Node's timer limit"],
    ['hedge.max', { max: 0 }, 'must be a whole number from 1 to 3'],
    ['hedge.max', { max: 4 }, 'must be a whole number from 1 to 3'],
    ['hedge.max', { max: 1.5 }, 'must be a whole number from 1 to 3'],
    ['hedge.max', { max: '2' }, 'must be a whole number from 1 to 3'],
  ])('refuses %s = %p', (name, hedge, expected) => {
    const build = (): unknown => loadBalance({ targets, hedge } as unknown as LoadBalanceOptions);
    expect(build).toThrow(TypeError);
    expect(build).toThrow(`option "${name}"`);
    expect(build).toThrow(expected);
  });

  it.each([undefined, false, {}, { delay: 25 }, { delay: 'p90', max: 3 }, { delay: 'p99', max: 2 }])('accepts hedge = %p', (hedge) => {
    expect(() => loadBalance({ targets, hedge } as LoadBalanceOptions)).not.toThrow();
  });

  it('is off by default: no hedge stats, and a stats() of a hedging balancer says the delay in force', () => {
    expect(loadBalance({ targets }).stats().hedge).toBeUndefined();
    expect(loadBalance({ targets, hedge: { delay: 40 } }).stats().hedge).toEqual({ sent: 0, won: 0, delayMs: 40 });
    expect(loadBalance({ targets, hedge: {} }).stats().hedge).toEqual({ sent: 0, won: 0, delayMs: null });
  });
});

describe('RecentLatency, the percentile a hedge delay follows', () => {
  function windows(durations: readonly number[][], now = 0): Array<{ recent: AttemptWindow }> {
    return durations.map((list) => {
      const recent = new AttemptWindow();
      for (const ms of list) recent.record(ms, true, now);
      return { recent };
    });
  }

  it('reads the percentile over every target, within the histogram error of the true value', () => {
    // 100 attempts of 1..100 ms, spread over two targets: p95 is 95 ms, p90 is 90 ms.
    const all = Array.from({ length: 100 }, (_, i) => i + 1);
    const targets = windows([all.filter((ms) => ms % 2 === 0), all.filter((ms) => ms % 2 === 1)]);
    const clock = new FakeClock();
    expect(Math.abs(new RecentLatency(() => targets, 0.95, 50, clock).read()! - 95)).toBeLessThan(95 * 0.03);
    expect(Math.abs(new RecentLatency(() => targets, 0.9, 50, clock).read()! - 90)).toBeLessThan(90 * 0.03);
  });

  it('has no value below the attempt count, and never reads below 1 ms', () => {
    const clock = new FakeClock();
    expect(new RecentLatency(() => windows([Array<number>(49).fill(0)]), 0.95, 50, clock).read()).toBeUndefined();
    expect(new RecentLatency(() => windows([Array<number>(50).fill(0)]), 0.95, 50, clock).read()).toBe(1);
  });

  it('reads the windows again at most once a refresh period', () => {
    const clock = new FakeClock();
    const targets = windows([Array<number>(60).fill(10)]);
    let reads = 0;
    const latency = new RecentLatency(
      () => {
        reads++;
        return targets;
      },
      0.95,
      50,
      clock,
    );
    expect(latency.read()).toBe(10);
    for (let i = 0; i < 10; i++) targets[0]!.recent.record(500, true, 0);
    clock.advance(RECENT_LATENCY_REFRESH_MS - 1);
    expect(latency.read()).toBe(10);
    expect(reads).toBe(1);
    clock.advance(1);
    expect(Math.abs(latency.read()! - 500)).toBeLessThan(500 * 0.03);
    expect(reads).toBe(2);
  });
});
