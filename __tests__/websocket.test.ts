import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import express from 'express';
import type { Express } from 'express';
import express4 from 'express4';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { prometheusMetrics } from '../src/prometheus';
import type { ErrorEvent, LoadBalanceOptions, Target } from 'express-load-balance';
import { closeAll, first, listen, request, startBalancer, type Balanced } from './helpers/servers';
import { closed, frontSocketOf, rawUpgrade, startCanary, startSilent, startWsUpstream, type WsUpstream } from './helpers/websocket';

/** A WebSocket client connected through the balancer, resolved once open. */
async function connect(url: string, headers?: Record<string, string>): Promise<WebSocket> {
  const ws = new WebSocket(url, { headers });
  clients.push(ws);
  await once(ws, 'open');
  return ws;
}

/** Sends `text` and resolves with the next message. */
async function echo(ws: WebSocket, text: string): Promise<string> {
  const reply = once(ws, 'message');
  ws.send(text);
  const [data] = (await reply) as [Buffer];
  return data.toString();
}

/** The status of a refused upgrade, or the error when the connection failed some other way. */
function refusal(url: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const ws = new WebSocket(url);
  clients.push(ws);
  return new Promise((resolve, reject) => {
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.resume();
      ws.terminate();
    });
    ws.on('open', () => reject(new Error('the upgrade was accepted')));
    ws.on('error', reject);
  });
}

let clients: WebSocket[] = [];
let upstreams: WsUpstream[] = [];
let others: Array<{ close(): Promise<void> }> = [];
let balanced: Balanced | undefined;

afterEach(async () => {
  for (const ws of clients) ws.terminate();
  await closeAll(balanced, ...upstreams, ...others);
  clients = [];
  upstreams = [];
  others = [];
  balanced = undefined;
});

async function startUpstreams(...names: string[]): Promise<WsUpstream[]> {
  upstreams = await Promise.all(names.map((name) => startWsUpstream(name)));
  return upstreams;
}

describe.each([
  ['Express 5', () => express()],
  ['Express 4', () => express4() as unknown as Express],
])('lb.upgrade on %s', (_name, createApp) => {
  /** The balancer mounted at /api, with lb.upgrade on the server's `upgrade` event. */
  async function balance(options: LoadBalanceOptions): Promise<Balanced & { ws: string }> {
    balanced = await startBalancer(options, { mount: '/api', app: createApp() });
    balanced.front.server.on('upgrade', balanced.lb.upgrade);
    return Object.assign(balanced, { ws: `ws://127.0.0.1:${balanced.front.port}` });
  }

  it('opens the very first WebSocket, with no HTTP request before it, and echoes both ways', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    const ws = await connect(`${lb.ws}/api/chat?room=1`);
    expect(await echo(ws, 'hello')).toBe('one: hello');
    expect(await echo(ws, 'again')).toBe('one: again');
    expect(one!.seen.map((s) => s.url)).toEqual(['/api/chat?room=1']);
  });

  it('spreads connections round-robin over the targets', async () => {
    const targets = await startUpstreams('1', '2', '3');
    const lb = await balance({ targets: targets.map((u) => u.url), strategy: 'round-robin' });
    const replies: string[] = [];
    for (let i = 0; i < 6; i++) replies.push(await echo(await connect(`${lb.ws}/api/ws`), 'hi'));
    expect(replies).toEqual(['1: hi', '2: hi', '3: hi', '1: hi', '2: hi', '3: hi']);
  });

  it('sends the target host, X-Forwarded-For and the handshake headers, under the target base path', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [`${one!.url}/v1`] });
    await connect(`${lb.ws}/api/chat`, { 'x-forwarded-for': '6.6.6.6', 'x-custom': 'kept' });
    const [seen] = one!.seen;
    expect(seen!.url).toBe('/v1/api/chat');
    expect(seen!.headers).toMatchObject({
      host: `127.0.0.1:${one!.port}`,
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-version': '13',
      'x-forwarded-for': '127.0.0.1',
      'x-forwarded-proto': 'http',
      'x-custom': 'kept',
    });
    expect(seen!.headers['sec-websocket-key']).toEqual(expect.any(String));
  });
});

describe('lb.upgrade', () => {
  async function balance(options: LoadBalanceOptions): Promise<Balanced & { ws: string }> {
    balanced = await startBalancer(options, { mount: '/api' });
    balanced.front.server.on('upgrade', balanced.lb.upgrade);
    return Object.assign(balanced, { ws: `ws://127.0.0.1:${balanced.front.port}` });
  }

  it('counts an open WebSocket in its target inFlight, and gives the slot back once it closes', async () => {
    const [one, two] = await startUpstreams('one', 'two');
    const lb = await balance({ targets: [one!.url, two!.url], strategy: 'least-connections' });
    const first = await connect(`${lb.ws}/api/ws`);
    expect(lb.lb.targets().map((t) => t.inFlight)).toEqual([1, 0]);
    // least-connections sees the open socket: the next connection goes to the other target.
    const second = await connect(`${lb.ws}/api/ws`);
    expect(await echo(second, 'x')).toBe('two: x');
    expect(lb.lb.targets().map((t) => t.inFlight)).toEqual([1, 1]);

    const firstFront = frontSocketOf(lb.front, first);
    first.close();
    await closed(firstFront);
    expect(lb.lb.targets().map((t) => t.inFlight)).toEqual([0, 1]);
    // The upstream closing its side gives the slot back too, once.
    const secondFront = frontSocketOf(lb.front, second);
    for (const socket of two!.sockets) socket.destroy();
    await closed(secondFront);
    expect(lb.lb.targets().map((t) => t.inFlight)).toEqual([0, 0]);
    expect(lb.lb.targets().map((t) => t.requests)).toEqual([1, 1]);
  });

  it('emits proxyReq when a handshake goes upstream and proxyEnd once its connection closes', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    const events: string[] = [];
    lb.lb.on('proxyReq', (e) => events.push(`proxyReq ${e.method} ${e.path} attempt ${e.attempt}`));
    lb.lb.on('proxyEnd', (e) => events.push(`proxyEnd ${e.result} ${e.status}`));
    const ws = await connect(`${lb.ws}/api/chat`);
    expect(await echo(ws, 'x')).toBe('one: x');
    expect(events).toEqual(['proxyReq GET /api/chat attempt 1']);
    const front = frontSocketOf(lb.front, ws);
    ws.close();
    await closed(front);
    expect(events).toEqual(['proxyReq GET /api/chat attempt 1', 'proxyEnd response 101']);
  });

  it('counts handshakes in the Prometheus metrics, failed ones included', async () => {
    const [one] = await startUpstreams('one');
    const refusing = await listen(() => undefined);
    await refusing.close();
    const registry = new Registry();
    const lb = await balance({ targets: [one!.url, refusing.url], strategy: 'round-robin', retries: 0 });
    const metrics = prometheusMetrics(lb.lb, { registry });
    const ws = await connect(`${lb.ws}/api/ws`);
    const front = frontSocketOf(lb.front, ws);
    ws.close();
    await closed(front);
    expect((await refusal(`${lb.ws}/api/ws`)).status).toBe(502);
    const counted = (await registry.getSingleMetric('elb_requests_total')!.get()).values.map((v) => [
      v.labels.target,
      v.labels.status_class,
      v.value,
    ]);
    expect(counted).toEqual([
      [one!.url, '1xx', 1],
      [refusing.url, 'error', 1],
    ]);
    metrics.close();
  });

  it('skips a target ejected by outlier detection after failed HTTP requests', async () => {
    const [bad, good] = await startUpstreams('bad', 'good');
    bad!.status = 500;
    const lb = await balance({
      targets: [bad!.url, good!.url],
      strategy: first,
      retries: 0,
      outlierDetection: { consecutiveFailures: 2, baseEjectionTime: 60_000 },
    });
    expect(await echo(await connect(`${lb.ws}/api/ws`), 'before')).toBe('bad: before');
    for (let i = 0; i < 2; i++) expect((await request(lb.url, { path: '/api/x' })).status).toBe(500);
    expect(lb.lb.targets().map((t) => t.ejected)).toEqual([true, false]);
    expect(await echo(await connect(`${lb.ws}/api/ws`), 'after')).toBe('good: after');
    expect(await echo(await connect(`${lb.ws}/api/ws`), 'again')).toBe('good: again');
  });

  it('sends nothing to a removed target', async () => {
    const [gone, kept] = await startUpstreams('gone', 'kept');
    const lb = await balance({ targets: [gone!.url, kept!.url] });
    await lb.lb.removeTarget(gone!.url);
    for (let i = 0; i < 3; i++) expect(await echo(await connect(`${lb.ws}/api/ws`), 'hi')).toBe('kept: hi');
    expect(gone!.seen).toEqual([]);
  });

  it('resolves removeTarget() only once the open WebSockets to that target have closed', async () => {
    const [gone, kept] = await startUpstreams('gone', 'kept');
    const lb = await balance({ targets: [gone!.url, kept!.url], strategy: first });
    const ws = await connect(`${lb.ws}/api/ws`);
    let removed = false;
    const removal = lb.lb.removeTarget(gone!.url).then(() => (removed = true));
    // The open tunnel still works through the removed target, and holds the removal.
    expect(await echo(ws, 'still here')).toBe('gone: still here');
    expect(await echo(await connect(`${lb.ws}/api/ws`), 'new')).toBe('kept: new');
    expect(removed).toBe(false);
    ws.close();
    await removal;
    expect(lb.lb.targets().map((t) => t.url)).toEqual([kept!.url]);
  });

  it('answers 502 at once when the target refuses the connection, and reports it', async () => {
    const closed = await listen(() => undefined);
    await closed.close();
    const lb = await balance({ targets: [closed.url] });
    const errors: ErrorEvent[] = [];
    lb.lb.on('error', (event) => errors.push(event));
    expect((await refusal(`${lb.ws}/api/ws`)).status).toBe(502);
    expect(errors.map((e) => [(e.error as { code?: string }).code, e.target?.url, e.upgradeReq?.url])).toEqual([
      ['ELB_BAD_GATEWAY', closed.url, '/api/ws'],
    ]);
    expect(lb.lb.targets()[0]).toMatchObject({ inFlight: 0, requests: 1, failures: 1 });
  });

  it('relays a target that answers the upgrade with an HTTP error, and gives the slot back', async () => {
    const plain = await listen((_req, res) => {
      res.statusCode = 404;
      res.end('no sockets here');
    });
    others.push(plain);
    const lb = await balance({ targets: [plain.url] });
    expect((await refusal(`${lb.ws}/api/ws`)).status).toBe(404);
    await closed(lb.front.sockets[0]!);
    expect(lb.lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 0 });
  });

  it('answers 504 when the target does not switch protocols within timeout', async () => {
    const silent = await startSilent();
    others.push(silent);
    const lb = await balance({ targets: [silent.url], timeout: 150 });
    const errors: ErrorEvent[] = [];
    lb.lb.on('error', (event) => errors.push(event));
    expect((await refusal(`${lb.ws}/api/ws`)).status).toBe(504);
    expect(errors.map((e) => (e.error as { code?: string }).code)).toEqual(['ELB_GATEWAY_TIMEOUT']);
    await closed(silent.accepted[0]!);
    expect(lb.lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
  });

  it('hangs up on the target when the client leaves before the handshake ends', async () => {
    const silent = await startSilent();
    others.push(silent);
    const lb = await balance({ targets: [silent.url] });
    const ws = new WebSocket(`${lb.ws}/api/ws`);
    clients.push(ws);
    ws.on('error', () => undefined);
    const [upstreamSide] = (await once(silent, 'accepted')) as [net.Socket];
    expect(lb.lb.targets()[0]!.inFlight).toBe(1);
    ws.terminate();
    await once(upstreamSide, 'close');
    expect(lb.lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 0 });
  });

  it('gives the slot back when the client resets an open WebSocket', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    const ws = await connect(`${lb.ws}/api/ws`);
    expect(await echo(ws, 'hi')).toBe('one: hi');
    const front = frontSocketOf(lb.front, ws);
    ws.terminate();
    await closed(front);
    expect(lb.lb.targets()[0]!.inFlight).toBe(0);
  });

  it('refuses an upgrade with 503 and Retry-After when every target is full', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url], maxInFlightPerTarget: 1 });
    await connect(`${lb.ws}/api/ws`);
    const refused = await refusal(`${lb.ws}/api/ws`);
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(one!.seen).toHaveLength(1);
  });

  it('answers 503 to upgrades once the balancer is closed', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    await lb.lb.close();
    expect((await refusal(`${lb.ws}/api/ws`)).status).toBe(503);
    expect(one!.seen).toEqual([]);
  });

  it('ends open WebSockets when the balancer closes', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    const ws = await connect(`${lb.ws}/api/ws`);
    const closed = once(ws, 'close');
    await lb.lb.close();
    await closed;
    expect(lb.lb.targets()[0]!.inFlight).toBe(0);
  });

  it('answers 503 and reports it when a custom strategy throws on an upgrade', async () => {
    const [one] = await startUpstreams('one');
    const byHeader = (targets: readonly Target[], req: express.Request) => targets[Number(req.get('x-n'))];
    const lb = await balance({ targets: [one!.url], strategy: byHeader });
    const errors: ErrorEvent[] = [];
    lb.lb.on('error', (event) => errors.push(event));
    expect((await refusal(`${lb.ws}/api/ws`)).status).toBe(503);
    expect(errors.map((e) => (e.error as { code?: string }).code)).toEqual(['ELB_NO_TARGET']);
    expect(lb.lb.targets()[0]!.inFlight).toBe(0);
  });

  it('keeps a sticky client on its target', async () => {
    const targets = await startUpstreams('1', '2', '3');
    const lb = await balance({ targets: targets.map((u) => u.url), sticky: { cookie: 'lb' } });
    const cookie = (await request(lb.url, { path: '/api/x' })).headers['set-cookie']![0]!.split(';')[0]!;
    const replies: string[] = [];
    for (let i = 0; i < 4; i++) replies.push(await echo(await connect(`${lb.ws}/api/ws`, { cookie }), 'hi'));
    expect(replies).toEqual(['1: hi', '1: hi', '1: hi', '1: hi']);
  });

  it('hashes an upgrade by its client address under consistent-hash', async () => {
    const targets = await startUpstreams('1', '2', '3');
    const lb = await balance({ targets: targets.map((u) => u.url), strategy: 'consistent-hash' });
    const replies = new Set<string>();
    for (let i = 0; i < 4; i++) replies.add(await echo(await connect(`${lb.ws}/api/ws`), 'hi'));
    expect(replies.size).toBe(1);
  });

  it.each([
    ['absolute-form', (canary: number) => `http://127.0.0.1:${canary}/x`, '/x'],
    ['a "//host" path', (canary: number) => `//127.0.0.1:${canary}/x`, `/127.0.0.1:{canary}/x`],
    ['a "/\\host" path', (canary: number) => `/\\127.0.0.1:${canary}/x`, `/127.0.0.1:{canary}/x`],
  ])('never lets %s pick the host', async (_kind, target, expected) => {
    const canary = await startCanary();
    others.push(canary);
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    expect(await rawUpgrade(lb.front.port, target(canary.port))).toBe(101);
    expect(canary.hits).toEqual([]);
    expect(one!.seen.map((s) => s.url)).toEqual([expected.replace('{canary}', String(canary.port))]);
  });

  it('forwards the path as HTTP requests are: dot-segments resolved, nothing else changed', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    expect(await rawUpgrade(lb.front.port, '/api/a/%2e%2e/b//c?q=1')).toBe(101);
    expect(one!.seen.map((s) => s.url)).toEqual(['/api/b//c?q=1']);
  });

  it('passes on a frame the client sent together with its handshake', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    // A masked text frame (RFC 6455 §5.2), written in the same packet as the request.
    const payload = Buffer.from('early');
    const mask = Buffer.from([1, 2, 3, 4]);
    const frame = Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, payload.map((byte, i) => byte ^ mask[i % 4]!)]);
    const socket = net.connect(lb.front.port, '127.0.0.1');
    others.push({
      close: () => {
        socket.destroy();
        return Promise.resolve();
      },
    });
    await once(socket, 'connect');
    socket.write(
      Buffer.concat([
        Buffer.from(
          `GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        ),
        frame,
      ]),
    );
    let received = Buffer.alloc(0);
    const reply = Buffer.from([0x81, 'one: early'.length, ...Buffer.from('one: early')]);
    for (let i = 0; i < 20 && !received.includes(reply); i++) {
      const [chunk] = (await once(socket, 'data')) as [Buffer];
      received = Buffer.concat([received, chunk]);
    }
    expect(received.toString('latin1')).toMatch(/^HTTP\/1\.1 101 /);
    expect(received.includes(reply)).toBe(true);
  });

  it.each([
    ['another protocol', { protocol: 'h2c' }],
    ['a POST', { method: 'POST' }],
  ])('answers 400 to an upgrade to %s, rather than dropping it', async (_kind, request) => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    expect(await rawUpgrade(lb.front.port, '/api/ws', request)).toBe(400);
    expect(one!.seen).toEqual([]);
    expect(lb.lb.targets()[0]!.requests).toBe(0);
  });

  it('refuses a path that climbs above its root with 400', async () => {
    const [one] = await startUpstreams('one');
    const lb = await balance({ targets: [one!.url] });
    expect(await rawUpgrade(lb.front.port, '/a/../../etc')).toBe(400);
    expect(one!.seen).toEqual([]);
  });
});
