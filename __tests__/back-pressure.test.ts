import type { LoadBalanceOptions, TargetHealthEvent } from 'express-load-balance';
import express from 'express';
import { Registry } from 'prom-client';
import { prometheusMetrics } from '../src/prometheus';
import { retryAfterMs } from '../src/resilience/back-pressure';
import { FakeClock } from './helpers/fake-clock';
import { closeAll, listen, request, startBalancer, type Balanced, type RunningServer } from './helpers/servers';

/** An upstream answering `status` with `headers`, as `<status> from <name>`; the test changes both. */
interface PausingUpstream extends RunningServer {
  readonly name: string;
  status: number;
  headers: Record<string, string>;
}

async function startPausing(name: string): Promise<PausingUpstream> {
  const upstream: PausingUpstream = Object.assign(
    await listen((_req, res) => {
      res.writeHead(upstream.status, upstream.headers);
      res.end(`${upstream.status} from ${name}`);
    }),
    { name, status: 200, headers: {} },
  );
  return upstream;
}

describe('reading Retry-After', () => {
  const now = Date.UTC(2026, 0, 1);
  it.each([
    { status: 503, header: '2', ms: 2_000 },
    { status: 429, header: ' 120 ', ms: 120_000 },
    { status: 503, header: new Date(now + 5_000).toUTCString(), ms: 5_000 },
    { status: 503, header: new Date(now - 5_000).toUTCString(), ms: undefined },
    { status: 503, header: '0', ms: undefined },
    { status: 503, header: 'soon', ms: undefined },
    { status: 503, header: '-3', ms: undefined },
    { status: 503, header: undefined, ms: undefined },
    { status: 500, header: '2', ms: undefined },
    { status: 200, header: '2', ms: undefined },
  ])('$status with $header asks for $ms ms', ({ status, header, ms }) => {
    expect(retryAfterMs(status, header, now)).toBe(ms);
  });
});

describe('upstream back-pressure (Retry-After)', () => {
  let upstreams: PausingUpstream[] = [];
  let balanced: Balanced | undefined;
  let clock: FakeClock;
  let events: string[];
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  async function balance(options: Partial<LoadBalanceOptions> = {}): Promise<Balanced> {
    upstreams = [await startPausing('a'), await startPausing('b')];
    clock = new FakeClock();
    balanced = await startBalancer(
      { targets: upstreams.map((u) => u.url), retries: 0, outlierDetection: false, ...options },
      { runtime: { clock, random: () => 0.5 } },
    );
    events = [];
    const record = (event: TargetHealthEvent): void =>
      void events.push(`${event.target.url === upstreams[0]!.url ? 'a' : 'b'} ${event.reason}`);
    balanced.lb.on('targetDown', (event) => record(event));
    balanced.lb.on('targetUp', (event) => record(event));
    return balanced;
  }

  async function answers(count: number): Promise<string> {
    const names: string[] = [];
    for (let i = 0; i < count; i++) names.push((await request(balanced!.url)).text.replace(/^\d+ from /, ''));
    return names.join(' ');
  }

  /** Sends one request that `a` answers with 503 and `header`, then lets `a` answer 200 again. */
  async function pauseA(header: string): Promise<void> {
    const [a] = upstreams;
    a!.status = 503;
    a!.headers = { 'retry-after': header };
    expect((await request(balanced!.url)).text).toBe('503 from a');
    a!.status = 200;
    a!.headers = {};
  }

  it('gives a target that answers 503 with Retry-After: 2 no request for 2 s, then its share again', async () => {
    await balance();
    await pauseA('2');
    expect(balanced!.lb.targets()[0]).toMatchObject({ resting: true, healthy: true, ejected: false });
    expect(await answers(4)).toBe('b b b b');
    clock.advance(1_999);
    expect(await answers(2)).toBe('b b');
    clock.advance(1);
    expect(balanced!.lb.targets()[0]!.resting).toBe(false);
    expect((await answers(4)).split(' ').sort()).toEqual(['a', 'a', 'b', 'b']);
    expect(events).toEqual(['a retry-after', 'a retry-after']);
    expect(balanced!.lb.stats().totals.usable).toBe(2);
  });

  it('shows a resting target in the stats, on the status page and in Prometheus', async () => {
    await balance();
    const registry = new Registry();
    const metrics = prometheusMetrics(balanced!.lb, { registry });
    await pauseA('30');
    expect(balanced!.lb.stats()).toMatchObject({ targets: [{ resting: true }, { resting: false }], totals: { usable: 1 } });
    expect((await registry.metrics()).split('\n').filter((line) => line.startsWith('elb_target_up'))).toEqual([
      `elb_target_up{target="${upstreams[0]!.url}"} 0`,
      `elb_target_up{target="${upstreams[1]!.url}"} 1`,
    ]);
    const page = express().get('/status', balanced!.lb.statusHandler());
    const front = await listen(page);
    try {
      const html = await request(front.url, { path: '/status', headers: { accept: 'text/html' } });
      expect(html.text).toContain('<span class="state resting">resting</span>');
    } finally {
      await front.close();
      metrics.close();
    }
  });

  it('caps a rest at retryAfter.max, and reads an HTTP date', async () => {
    await balance({ retryAfter: { max: 10_000 } });
    await pauseA('3600');
    clock.advance(9_999);
    expect(await answers(2)).toBe('b b');
    clock.advance(1);
    expect(balanced!.lb.targets()[0]!.resting).toBe(false);

    await answers(1); // the rotation is at a again
    await pauseA(new Date(clock.wallNow() + 4_000).toUTCString());
    expect(balanced!.lb.targets()[0]!.resting).toBe(true);
    clock.advance(4_000);
    expect(balanced!.lb.targets()[0]!.resting).toBe(false);
  });

  it('never rests the last usable target', async () => {
    const [only] = (upstreams = [await startPausing('only')]);
    clock = new FakeClock();
    balanced = await startBalancer({ targets: [only!.url], retries: 0 }, { runtime: { clock, random: () => 0.5 } });
    only!.status = 503;
    only!.headers = { 'retry-after': '30' };
    expect((await request(balanced.url)).status).toBe(503);
    expect(balanced.lb.targets()[0]!.resting).toBe(false);
    only!.status = 200;
    expect((await request(balanced.url)).text).toBe('200 from only');
  });

  it('rests the target and retries elsewhere when retryOn lists the status', async () => {
    await balance({ retries: 1, retryOn: [503] });
    const [a] = upstreams;
    a!.status = 503;
    a!.headers = { 'retry-after': '5' };
    expect((await request(balanced!.url)).text).toBe('200 from b');
    expect(balanced!.lb.targets()[0]!.resting).toBe(true);
  });

  it('is off with retryAfter: false', async () => {
    await balance({ retryAfter: false });
    await pauseA('5');
    expect(balanced!.lb.targets()[0]!.resting).toBe(false);
    expect((await answers(2)).split(' ').sort()).toEqual(['a', 'b']);
  });

  it('brings a rested target back slowly when slowStart is set', async () => {
    await balance({ slowStart: 10_000 });
    expect(balanced!.lb.targets()[0]!.effectiveWeight).toBe(1);
    await pauseA('2');
    clock.advance(2_000);
    expect(balanced!.lb.targets()[0]).toMatchObject({ resting: false, weight: 1, effectiveWeight: 0.1 });
    clock.advance(5_000);
    expect(balanced!.lb.targets()[0]!.effectiveWeight).toBeCloseTo(0.5, 6);
    clock.advance(5_000);
    expect(balanced!.lb.targets()[0]!.effectiveWeight).toBe(1);
  });
});
