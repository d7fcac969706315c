import { once } from 'node:events';
import http from 'node:http';
import type { Outcome, Strategy, Target } from 'express-load-balance';
import { Holder } from './helpers/hold';
import {
  closeAll,
  listen,
  request,
  startBalancer,
  startUpstream,
  type Balanced,
  type RunningServer,
  type Upstream,
} from './helpers/servers';

/**
 * A strategy that picks the first target and reports each request's end, so a test can
 * await the moment the balancer has settled a request (no polling, no sleeps).
 */
class Recorder implements Strategy {
  readonly outcomes: Outcome[] = [];
  starts = 0;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  pick(targets: readonly Target[]): Target | undefined {
    return targets[0];
  }

  onStart(): void {
    this.starts++;
  }

  onEnd(_target: Target, outcome: Outcome): void {
    this.outcomes.push(outcome);
    this.waiters = this.waiters.filter((w) => (this.outcomes.length >= w.count ? (w.resolve(), false) : true));
  }

  ended(count: number): Promise<void> {
    if (this.outcomes.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
}

describe('in-flight counts go down exactly once per request', () => {
  let upstream: Upstream | undefined;
  let raw: RunningServer | undefined;
  let balanced: Balanced | undefined;
  let holder = new Holder();
  let recorder = new Recorder();
  afterEach(async () => {
    holder.releaseAll();
    await closeAll(balanced, upstream, raw);
    balanced = raw = upstream = undefined;
  });

  async function start(url?: string, timeout = 30_000): Promise<Balanced> {
    holder = new Holder();
    recorder = new Recorder();
    upstream = await startUpstream('a', (app) => {
      holder.route('/hold', 'a')(app);
      app.get('/reset', (req) => req.socket.destroy());
    });
    balanced = await startBalancer({ targets: [url ?? upstream.url], strategy: recorder, timeout });
    return balanced;
  }

  function inFlight(front: Balanced): number {
    return front.lb.targets()[0]!.inFlight;
  }

  it('after a success', async () => {
    const front = await start();
    expect((await request(front.url)).status).toBe(200);
    await recorder.ended(1);
    expect(inFlight(front)).toBe(0);
    expect(recorder.outcomes).toEqual([expect.objectContaining({ ok: true, status: 200 })]);
  });

  it('after the upstream resets the connection (502)', async () => {
    const front = await start();
    expect((await request(front.url, { path: '/reset' })).status).toBe(502);
    await recorder.ended(1);
    expect(front.lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
  });

  it('after a refused connection (502)', async () => {
    raw = await listen((_req: http.IncomingMessage, res: http.ServerResponse) => res.end());
    const deadUrl = raw.url;
    await raw.close();
    raw = undefined;
    const front = await start(deadUrl);
    expect((await request(front.url)).status).toBe(502);
    await recorder.ended(1);
    expect(inFlight(front)).toBe(0);
  });

  it('after an upstream that never answers times out (504)', async () => {
    const front = await start(undefined, 100);
    const res = await request(front.url, { path: '/hold' });
    expect(res.status).toBe(504);
    await recorder.ended(1);
    expect(front.lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
    expect(recorder.outcomes[0]!.ok).toBe(false);
  });

  it('after the client aborts before the response starts', async () => {
    const front = await start();
    const req = http.get(`${front.url}/hold`, { agent: false });
    req.on('error', () => undefined);
    await holder.arrived(1);
    expect(inFlight(front)).toBe(1);
    const upstreamSawClose = once(holder.responses[0]!, 'close');
    req.destroy();
    // At once, not when the upstream answers or `timeout` runs out.
    await upstreamSawClose;
    await recorder.ended(1);
    expect(inFlight(front)).toBe(0);
  });

  it('after the client aborts in the middle of the response body', async () => {
    raw = await listen((_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part;'); // and never the rest
    });
    const front = await start(raw.url);
    await new Promise<void>((resolve, reject) => {
      const req = http.get(front.url, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (err) => (err.message === 'socket hang up' ? undefined : reject(err)));
    });
    await recorder.ended(1);
    expect(inFlight(front)).toBe(0);
  });

  it('after the upstream dies in the middle of the response body', async () => {
    raw = await listen((_req: http.IncomingMessage, res: http.ServerResponse) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '100' });
      res.write('ten bytes.', () => res.socket?.destroy());
    });
    const front = await start(raw.url);
    await expect(request(front.url)).rejects.toThrow();
    await recorder.ended(1);
    expect(front.lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
  });

  it('reports one end per start over a mix of outcomes', async () => {
    const front = await start();
    await request(front.url);
    await request(front.url, { path: '/reset' });
    await request(front.url);
    await recorder.ended(3);
    expect(recorder.starts).toBe(3);
    expect(recorder.outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(inFlight(front)).toBe(0);
  });

  it.each(['onStart', 'onEnd'] as const)('when a custom strategy %s throws: reported, request answered, count back to 0', async (hook) => {
    upstream = await startUpstream('a');
    let ended!: () => void;
    const done = new Promise<void>((resolve) => (ended = resolve));
    const strategy: Strategy = {
      pick: (targets) => targets[0],
      [hook]: () => {
        throw new Error(`${hook} broke`);
      },
    };
    balanced = await startBalancer({ targets: [upstream.url], strategy });
    const reported: string[] = [];
    balanced.lb.on('error', ({ error }) => {
      reported.push(error.message);
      if (hook === 'onEnd') ended();
    });
    expect((await request(balanced.url)).text).toBe('Response from server Test: a');
    if (hook === 'onEnd') await done;
    expect(reported).toEqual([`${hook} broke`]);
    expect(inFlight(balanced)).toBe(0);
  });
});
