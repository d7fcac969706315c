import { once } from 'node:events';
import type { Socket } from 'node:net';
import express from 'express';
import { NoTargetError, loadBalance } from 'express-load-balance';
import { closeAll, listen, request, startBalancer, type Balanced, type RunningServer } from './helpers/servers';

describe('lb.close()', () => {
  let upstream: RunningServer;
  let balanced: Balanced;
  beforeEach(async () => {
    upstream = await listen((_req, res) => res.end('ok'));
    upstream.server.keepAliveTimeout = 60_000;
    balanced = await startBalancer({ targets: [upstream.url] });
  });
  afterEach(() => closeAll(balanced, upstream));

  it('frees pooled sockets: the upstream sees its connection close', async () => {
    await request(balanced.url);
    const [socket] = upstream.sockets as [Socket];
    const closed = once(socket, 'close');
    await balanced.lb.close();
    await closed;
  });

  it('is idempotent, and later requests get a 503 ELB_NO_TARGET', async () => {
    await Promise.all([balanced.lb.close(), balanced.lb.close()]);
    await balanced.lb.close();
    const res = await request(balanced.url);
    expect(res.status).toBe(503);
    expect(balanced.errors).toEqual([expect.any(NoTargetError)]);
    expect(balanced.errors[0]).toMatchObject({ status: 503, code: 'ELB_NO_TARGET' });
  });
});

describe('the shorthand loadBalance(targets, strategy)', () => {
  it('balances over the targets with the strategy it was given', async () => {
    const upstreams = await Promise.all(['a', 'b'].map((name) => listen((_req, res) => res.end(name))));
    const lb = loadBalance(
      upstreams.map((u) => u.url),
      (targets) => targets[1],
    );
    const app = express();
    app.use(lb);
    const front = await listen(app);
    try {
      expect([(await request(front.url)).text, (await request(front.url)).text]).toEqual(['b', 'b']);
    } finally {
      await lb.close();
      await closeAll(front, ...upstreams);
    }
  });
});

describe('a custom strategy', () => {
  let upstreams: RunningServer[];
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, ...upstreams));

  it('as a function picks the target, with the request at hand', async () => {
    upstreams = await Promise.all(['a', 'b'].map((name) => listen((_req, res) => res.end(name))));
    balanced = await startBalancer({
      targets: upstreams.map((u) => u.url),
      strategy: (targets, req) => targets[req.get('x-shard') === 'b' ? 1 : 0],
    });
    expect((await request(balanced.url, { headers: { 'x-shard': 'b' } })).text).toBe('b');
    expect((await request(balanced.url)).text).toBe('a');
  });

  it('as an object is told when each request starts and ends, exactly once', async () => {
    upstreams = [await listen((_req, res) => res.end('x'))];
    const calls: string[] = [];
    balanced = await startBalancer({
      targets: [upstreams[0]!.url],
      strategy: {
        pick: (targets) => targets[0],
        onStart: (target) => calls.push(`start ${target.inFlight}`),
        onEnd: (target, outcome) => calls.push(`end ${outcome.ok} ${outcome.status}`),
      },
    });
    await request(balanced.url);
    await request(balanced.url);
    expect(calls).toEqual(['start 1', 'end true 200', 'start 1', 'end true 200']);
  });

  it('returning no target answers 503, returning a foreign object is a bug reported as 500', async () => {
    upstreams = [await listen((_req, res) => res.end('x'))];
    balanced = await startBalancer({ targets: [upstreams[0]!.url], strategy: () => undefined });
    expect((await request(balanced.url)).status).toBe(new NoTargetError('x').status);
    await balanced.close();
    balanced = await startBalancer({
      targets: [upstreams[0]!.url],
      strategy: (targets) => ({ ...targets[0]! }),
    });
    expect((await request(balanced.url)).status).toBe(500);
  });
});
