// lb.close({ drain }): a graceful shutdown, as a Kubernetes pod does on SIGTERM. The drain
// deadline runs on a fake clock, so nothing here waits for time to pass: the tests await
// responses, `proxyEnd` events and the promise close() returned.
import { once } from 'node:events';
import http from 'node:http';
import type { Express, Response } from 'express';
import WebSocket from 'ws';
import type { LoadBalanceOptions } from 'express-load-balance';
import { endings } from './helpers/events';
import { fakeRuntime, type FakeClock } from './helpers/fake-clock';
import { Holder } from './helpers/hold';
import { closeAll, first, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';
import { rawUpgrade, startWsUpstream, type WsUpstream } from './helpers/websocket';

let clock: FakeClock;
let balanced: Balanced | undefined;
let holders: Holder[] = [];
let servers: Array<{ close(): Promise<void> }> = [];
let clients: WebSocket[] = [];

beforeEach(() => {
  clock = fakeRuntime().clock;
});

afterEach(async () => {
  for (const holder of holders) holder.releaseAll();
  for (const ws of clients) ws.terminate();
  // A drain a failing test left open ends at its deadline, so closing never hangs here.
  clock.advance(3_600_000);
  await closeAll(balanced, ...servers);
  balanced = undefined;
  holders = [];
  servers = [];
  clients = [];
});

/** Upstreams that hold `/slow` until the test releases it, behind a balancer on the fake clock. */
async function startHeld(names: readonly string[], options: Omit<LoadBalanceOptions, 'targets'> = {}): Promise<HeldSetup> {
  const holder = new Holder();
  holders.push(holder);
  const upstreams = await holder.startUpstreams(names);
  servers.push(...upstreams);
  balanced = await startBalancer({ ...options, targets: upstreams.map((u) => u.url) }, { runtime: fakeRuntime(clock) });
  return { holder, upstreams, balanced };
}

interface HeldSetup {
  holder: Holder;
  upstreams: Upstream[];
  balanced: Balanced;
}

/** A promise, and whether it has settled yet. */
function watch(promise: Promise<void>): { readonly settled: boolean; readonly promise: Promise<void> } {
  const watched = { settled: false, promise };
  void promise.then(() => (watched.settled = true));
  return watched;
}

/** Requests in flight on every current target, as lb.targets() counts them. */
function inFlight(lb: Balanced['lb']): number {
  return lb.targets().reduce((sum, target) => sum + target.inFlight, 0);
}

/** A GET through the balancer: its response head once it arrives, and how it ended: 'complete' or 'broken: <error>'. */
function get(url: string, path: string): { head: Promise<http.IncomingMessage>; outcome: Promise<string> } {
  let onHead!: (res: http.IncomingMessage) => void;
  const head = new Promise<http.IncomingMessage>((resolve) => (onHead = resolve));
  const outcome = new Promise<string>((resolve) => {
    const req = http.get(`${url}${path}`, { agent: false }, (res) => {
      onHead(res);
      res.on('error', (err) => resolve(`broken: ${err.message}`));
      res.on('end', () => resolve('complete'));
      res.resume();
    });
    req.on('error', (err) => resolve(`broken: ${err.message}`));
  });
  return { head, outcome };
}

const code = (err: unknown): unknown => (err as { code?: unknown }).code;

/** A client that would keep its connection open, unless the answer says `Connection: close`. */
const KEEP_ALIVE = { connection: 'keep-alive' };

describe('lb.close({ drain })', () => {
  it('lets 20 slow requests in flight finish, refuses new ones with 503, and resolves after the last', async () => {
    const { holder, balanced } = await startHeld(['a', 'b']);
    const { lb, url } = balanced;
    const slow = Array.from({ length: 20 }, () => request(url, { path: '/slow' }));
    await holder.arrived(20);
    const ends = endings(lb);

    const closing = watch(lb.close({ drain: 30_000 }));
    let endedWhenResolved: number | undefined;
    void closing.promise.then(() => (endedWhenResolved = ends.events.length));

    const refused = await request(url, { path: '/fast', headers: KEEP_ALIVE });
    expect(refused.status).toBe(503);
    expect(refused.headers.connection).toBe('close');
    expect(balanced.errors.map(code)).toEqual(['ELB_NO_TARGET']);

    for (let i = 0; i < 19; i++) holder.releaseOne();
    await ends.count(19);
    expect(closing.settled).toBe(false);
    expect(inFlight(lb)).toBe(1);

    holder.releaseOne();
    await closing.promise;
    // The last one's answer ended before the promise resolved, and well before the deadline.
    expect(endedWhenResolved).toBe(20);
    expect(clock.now()).toBe(0);
    const answers = await Promise.all(slow);
    expect(answers.map((r) => r.status)).toEqual(Array<number>(20).fill(200));
    expect(answers.every((r) => r.text.startsWith('released by '))).toBe(true);
    expect(lb.targets().map((t) => [t.inFlight, t.requests, t.failures])).toEqual([
      [0, 10, 0],
      [0, 10, 0],
    ]);
  });

  it('resolves at once when nothing is in flight', async () => {
    const { balanced } = await startHeld(['a']);
    expect((await request(balanced.url, { path: '/fast' })).status).toBe(200);
    await balanced.lb.close({ drain: 30_000 });
    expect(clock.now()).toBe(0);
  });

  it('breaks the client connections still in flight at the deadline, and ends each attempt once, as aborted', async () => {
    const holder = new Holder();
    holders.push(holder);
    const partial: Response[] = [];
    // `/partial` sends its head and half a body, then stalls.
    const upstream = await startUpstream('a', (app: Express) => {
      holder.route('/slow')(app);
      app.get('/partial', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first half, ');
        partial.push(res);
      });
    });
    servers.push(upstream);
    balanced = await startBalancer({ targets: [upstream.url] }, { runtime: fakeRuntime(clock) });
    const { lb, url } = balanced;
    const ends = endings(lb);
    const beforeAnswer = get(url, '/slow');
    const midAnswer = get(url, '/partial');
    await holder.arrived(1);
    await midAnswer.head;

    const closing = watch(lb.close({ drain: 1_000 }));
    clock.advance(999);
    await new Promise(setImmediate);
    expect(closing.settled).toBe(false);
    expect(inFlight(lb)).toBe(2);

    const upstreamSawClose = [once(holder.responses[0]!, 'close'), once(partial[0]!, 'close')];
    clock.advance(1);
    await closing.promise;
    expect(inFlight(lb)).toBe(0);
    expect(await beforeAnswer.outcome).toMatch(/^broken: /);
    expect(await midAnswer.outcome).toMatch(/^broken: /);
    await Promise.all(upstreamSawClose);
    await new Promise(setImmediate);

    // Neither the target's fault nor counted twice: one `aborted` end per request.
    expect(ends.events.map((e) => `${e.result} ${e.status ?? '-'}`).sort()).toEqual(['aborted -', 'aborted 200']);
    expect(lb.targets()[0]).toMatchObject({ inFlight: 0, requests: 2, failures: 0 });
    expect(balanced.errors).toEqual([]);
  });

  it('is not held past the deadline by a request stuck in an axios interceptor that never settles', async () => {
    const { balanced } = await startHeld(['a']);
    const { lb, url } = balanced;
    lb.axios.interceptors.request.use((config) => (config.url?.endsWith('/stuck') ? new Promise<never>(() => undefined) : config));
    const sent = new Promise((resolve) => lb.on('proxyReq', resolve));
    const stuck = get(url, '/stuck');
    const ends = endings(lb);
    await sent;
    expect(inFlight(lb)).toBe(1);

    const closing = lb.close({ drain: 1_000 });
    clock.advance(1_000);
    await closing;
    expect(await stuck.outcome).toMatch(/^broken: /);
    expect(inFlight(lb)).toBe(0);
    expect(ends.events.map((e) => e.result)).toEqual(['aborted']);
  });

  it('waits for a request retried on another target during the drain', async () => {
    // busy's one request is answered by hand, so only held is released after the test.
    const busy = new Holder();
    const held = new Holder();
    holders.push(held);
    const [a] = await busy.startUpstreams(['a']);
    const [b] = await held.startUpstreams(['b']);
    servers.push(a!, b!);
    balanced = await startBalancer({ targets: [a!.url, b!.url], strategy: first, retryOn: [503] }, { runtime: fakeRuntime(clock) });
    const { lb, url } = balanced;
    const answer = request(url, { path: '/slow' });
    await busy.arrived(1);
    const closing = watch(lb.close({ drain: 30_000 }));

    // a's 503 ends its attempt, leaving nothing in flight for a moment, then the retry begins on b.
    busy.responses[0]!.status(503).send('busy');
    await held.arrived(1);
    await new Promise(setImmediate);
    expect(closing.settled).toBe(false);

    held.releaseAll();
    await closing.promise;
    expect((await answer).text).toBe('released by b');
  });

  /** A balancer on the fake clock with one WebSocket open through it. */
  async function openWebSocket(): Promise<{ one: WsUpstream; lb: Balanced['lb']; front: Balanced['front']; ws: WebSocket }> {
    const one = await startWsUpstream('one');
    servers.push(one);
    balanced = await startBalancer({ targets: [one.url] }, { runtime: fakeRuntime(clock) });
    const { lb, front } = balanced;
    front.server.on('upgrade', lb.upgrade);
    const ws = new WebSocket(`ws://127.0.0.1:${front.port}/chat`);
    clients.push(ws);
    await once(ws, 'open');
    return { one, lb, front, ws };
  }

  it('keeps an open WebSocket until the deadline, then ends it', async () => {
    const { one, lb, front, ws } = await openWebSocket();

    const ends = endings(lb);
    const closing = watch(lb.close({ drain: 5_000 }));
    const reply = once(ws, 'message');
    ws.send('still there?');
    expect(String((await reply)[0])).toBe('one: still there?');
    expect(await rawUpgrade(front.port, '/chat')).toBe(503);
    expect(closing.settled).toBe(false);
    expect(inFlight(lb)).toBe(1);

    const wsClosed = once(ws, 'close');
    clock.advance(5_000);
    await closing.promise;
    await wsClosed;
    expect(inFlight(lb)).toBe(0);
    expect(one.seen).toHaveLength(1);
    // Ended by its tunnel, as close() without drain ends it: the handshake's outcome, once.
    expect(ends.events.map((e) => `${e.result} ${e.status}`)).toEqual(['response 101']);
  });

  it('resolves as soon as the last open WebSocket closes, before the deadline', async () => {
    const { lb, ws } = await openWebSocket();

    const closing = lb.close({ drain: 5_000 });
    ws.close();
    await closing;
    expect(clock.now()).toBe(0);
    expect(inFlight(lb)).toBe(0);
  });

  it('returns the same promise to every later call, with or without an argument', async () => {
    const { holder, balanced } = await startHeld(['a']);
    const { lb, url } = balanced;
    const answer = request(url, { path: '/slow' });
    await holder.arrived(1);
    const closing = lb.close({ drain: 30_000 });
    expect(lb.close()).toBe(closing);
    expect(lb.close({ drain: 5 })).toBe(closing);
    clock.advance(5);
    holder.releaseAll();
    await closing;
    expect((await answer).status).toBe(200);
  });

  it.each([
    [{ drain: -1 }, 'close() argument "options.drain" must be a positive, finite number, got -1'],
    [{ drain: 0 }, 'close() argument "options.drain" must be a positive, finite number, got 0'],
    [{ drain: '30s' }, 'close() argument "options.drain" must be a positive, finite number, got "30s"'],
    [{ drain: 2 ** 31 }, `close() argument "options.drain" must be at most ${2 ** 31 - 1} ms (Node's timer limit), got ${2 ** 31}`],
    [{ drian: 30_000 }, 'close() argument "options.drian" is not a known setting (expected drain), got 30000'],
    ['SIGTERM', 'close() argument "options" must be an object { drain }, got "SIGTERM"'],
  ])('rejects %p with a TypeError, and closes nothing', async (options, message) => {
    const { balanced } = await startHeld(['a']);
    const closing = balanced.lb.close(options as never);
    await expect(closing).rejects.toThrow(TypeError);
    await expect(closing).rejects.toThrow(`express-load-balance: ${message}`);
    expect((await request(balanced.url, { path: '/fast' })).status).toBe(200);
  });
});

describe('lb.close() without drain', () => {
  it('frees at once, as before: requests in flight fail, later ones get a 503 with Connection: close', async () => {
    const { holder, balanced } = await startHeld(['a']);
    const { lb, url } = balanced;
    const held = request(url, { path: '/slow' });
    await holder.arrived(1);
    await lb.close();
    expect(holder.heldBy).toEqual(['a']);
    expect((await held).status).toBe(502);

    const refused = await request(url, { path: '/fast', headers: KEEP_ALIVE });
    expect(refused.status).toBe(503);
    expect(refused.headers.connection).toBe('close');
    expect(balanced.errors.map(code)).toEqual(['ELB_BAD_GATEWAY', 'ELB_NO_TARGET']);
  });

  it.each([[{}], [{ drain: undefined }]])('frees at once when given %p', async (options) => {
    const { holder, balanced } = await startHeld(['a']);
    const held = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    await balanced.lb.close(options);
    expect((await held).status).toBe(502);
  });
});
