import type { LoadBalanceOptions, TargetHealthEvent } from 'express-load-balance';
import type { Runtime } from '../src/clock';
import { fakeRuntime } from './helpers/fake-clock';
import { closeAll, first, request, startBalancer, startSwitchable, type Balanced, type SwitchableUpstream } from './helpers/servers';

// `first` keeps the failing target first in line, so every request tries it as long as
// it is not ejected.
describe('outlier detection', () => {
  let balanced: Balanced | undefined;
  let upstreams: SwitchableUpstream[] = [];
  /** Set by a test that drives the balancer on a fake clock. */
  let runtime: Runtime | undefined;
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
    runtime = undefined;
  });

  async function balance(targets: string[], options: Partial<LoadBalanceOptions>): Promise<Balanced> {
    balanced = await startBalancer({ targets, strategy: first, retries: 0, ...options }, { runtime });
    return balanced;
  }

  it('ejects a target after consecutiveFailures 5xx answers in a row, and sends it nothing while ejected', async () => {
    const bad = await startSwitchable('bad');
    const good = await startSwitchable('good');
    upstreams = [bad, good];
    bad.status = 500;
    const lb = await balance([bad.url, good.url], { outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 60_000 } });
    const down: TargetHealthEvent[] = [];
    lb.lb.on('targetDown', (event) => down.push(event));
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push((await request(lb.url)).text);
    expect(answers).toEqual(['500 from bad', '500 from bad', '500 from bad', '200 from good', '200 from good', '200 from good']);
    expect(down.map((e) => [e.target.url, e.reason])).toEqual([[bad.url, 'outlier']]);
    expect(lb.lb.targets().map((t) => t.ejected)).toEqual([true, false]);
  });

  it('does not count 4xx answers, and a success resets the count', async () => {
    const flaky = await startSwitchable('flaky');
    upstreams = [flaky, await startSwitchable('other')];
    const lb = await balance(
      upstreams.map((u) => u.url),
      { outlierDetection: { consecutiveFailures: 3 } },
    );
    flaky.status = 404;
    for (let i = 0; i < 5; i++) await request(lb.url);
    for (const status of [500, 500, 200, 500, 500, 200]) {
      flaky.status = status;
      await request(lb.url);
    }
    expect(lb.lb.targets()[0]).toMatchObject({ ejected: false, requests: 11 });
  });

  it('brings an ejected one back on probation: one failure ejects it again, for longer', async () => {
    const flaky = await startSwitchable('flaky');
    upstreams = [flaky, await startSwitchable('other')];
    flaky.status = 502;
    const base = 30_000;
    const { clock } = (runtime = fakeRuntime());
    const lb = await balance(
      upstreams.map((u) => u.url),
      { outlierDetection: { consecutiveFailures: 2, baseEjectionTime: base } },
    );
    const up: TargetHealthEvent[] = [];
    lb.lb.on('targetUp', (event) => up.push(event));
    await request(lb.url);
    await request(lb.url);
    expect(lb.lb.targets()[0]!.ejected).toBe(true);
    clock.advance(base - 1);
    expect(up).toEqual([]);
    clock.advance(1);
    expect(up.map((e) => [e.target.url, e.reason])).toEqual([[flaky.url, 'outlier']]);

    // On probation: a single failure is enough, and the second ejection lasts twice as long.
    await request(lb.url);
    expect(lb.lb.targets()[0]!.ejected).toBe(true);
    clock.advance(2 * base - 1);
    expect(lb.lb.targets()[0]!.ejected).toBe(true);
    clock.advance(1);
    expect(lb.lb.targets()[0]!.ejected).toBe(false);

    // A success ends probation: from now on it takes consecutiveFailures again.
    flaky.status = 200;
    expect((await request(lb.url)).text).toBe('200 from flaky');
    flaky.status = 502;
    await request(lb.url);
    expect(lb.lb.targets()[0]!.ejected).toBe(false);
  });

  it('caps an ejection at maxEjectionTime', async () => {
    const flaky = await startSwitchable('flaky');
    upstreams = [flaky, await startSwitchable('other')];
    flaky.status = 502;
    const { clock } = (runtime = fakeRuntime());
    const lb = await balance(
      upstreams.map((u) => u.url),
      {
        outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 10_000, maxEjectionTime: 15_000 },
      },
    );
    await request(lb.url);
    clock.advance(10_000);
    await request(lb.url); // on probation: ejected again, for 2 × 10 s capped at 15 s
    expect(lb.lb.targets()[0]!.ejected).toBe(true);
    clock.advance(14_999);
    expect(lb.lb.targets()[0]!.ejected).toBe(true);
    clock.advance(1);
    expect(lb.lb.targets()[0]!.ejected).toBe(false);
  });

  it('never ejects more than maxEjectionPercent of the targets (at least one may go)', async () => {
    upstreams = await Promise.all(['a', 'b', 'c', 'd'].map((n) => startSwitchable(n)));
    for (const u of upstreams) u.status = 503;
    const lb = await balance(
      upstreams.map((u) => u.url),
      {
        strategy: 'round-robin',
        outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 60_000, maxEjectionPercent: 50 },
      },
    );
    for (let i = 0; i < 20; i++) await request(lb.url);
    expect(lb.lb.targets().filter((t) => t.ejected)).toHaveLength(2);
  });

  it('sends to every target in panic mode, when all usable ones are gone', async () => {
    const only = await startSwitchable('only');
    upstreams = [only];
    only.status = 500;
    const lb = await balance([only.url], { outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 60_000 } });
    await request(lb.url);
    expect(lb.lb.targets()[0]!.ejected).toBe(true);
    only.status = 200;
    expect((await request(lb.url)).text).toBe('200 from only');
  });

  it('is off with outlierDetection: false', async () => {
    const bad = await startSwitchable('bad');
    upstreams = [bad, await startSwitchable('good')];
    bad.status = 500;
    const lb = await balance(
      upstreams.map((u) => u.url),
      { outlierDetection: false },
    );
    for (let i = 0; i < 10; i++) expect((await request(lb.url)).status).toBe(500);
    expect(lb.lb.targets()[0]!.ejected).toBe(false);
  });
});
