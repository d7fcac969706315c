import type { Socket } from 'node:net';
import express, { type RequestHandler } from 'express';
import type { LoadBalanceOptions } from 'express-load-balance';
import { startRawUpstream, type RawUpstream } from './helpers/raw-upstream';
import { closeAll, listen, request, startBalancer, type Balanced, type RunningServer, type SimpleResponse } from './helpers/servers';

describe('keep-alive connections to upstreams', () => {
  let upstream: RunningServer | undefined;
  let balanced: Balanced | undefined;
  let raw: RawUpstream | undefined;
  afterEach(async () => {
    await closeAll(balanced, upstream, raw);
    balanced = upstream = raw = undefined;
  });

  it('reuses one pooled connection for sequential requests', async () => {
    upstream = await listen((_req, res) => res.end('ok'));
    balanced = await startBalancer({ targets: [upstream.url] });
    for (let i = 0; i < 5; i++) expect((await request(balanced.url)).text).toBe('ok');
    expect(upstream.sockets).toHaveLength(1);
  });

  it('closes an idle pooled connection itself after keepAliveTimeout, before the upstream would', async () => {
    // The upstream closes a connection idle for UPSTREAM_IDLE_MS, and sends no
    // `Keep-Alive: timeout=N` hint (Node's agent would act on that by itself): only the
    // balancer's keepAliveTimeout can close it sooner.
    const UPSTREAM_IDLE_MS = 3_000;
    let firstClosedBy!: (by: 'balancer' | 'upstream') => void;
    const firstClosed = new Promise<'balancer' | 'upstream'>((resolve) => (firstClosedBy = resolve));
    raw = await startRawUpstream((socket) => socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    raw.server.on('connection', (socket: Socket) => {
      socket.once('end', () => firstClosedBy('balancer'));
      socket.setTimeout(UPSTREAM_IDLE_MS, () => {
        firstClosedBy('upstream');
        socket.destroy();
      });
    });
    balanced = await startBalancer({ targets: [raw.url], keepAliveTimeout: 100 });
    expect((await request(balanced.url)).text).toBe('ok');
    expect(await firstClosed).toBe('balancer');
    expect((await request(balanced.url)).text).toBe('ok');
    expect(raw.connections).toBe(2);
  });

  describe('when the upstream closes a pooled connection just as a request arrives (the keep-alive race)', () => {
    // Each connection serves one request; the next request on the same connection is
    // met with a reset, as when an upstream's idle timer fires at that very moment.
    let handled: string[];
    async function racingUpstream(): Promise<RunningServer> {
      handled = [];
      const served = new WeakSet<Socket>();
      const app = express();
      app.use(express.text({ type: '*/*' }));
      app.use((req, res) => {
        if (served.has(req.socket)) {
          req.socket.destroy();
          return;
        }
        served.add(req.socket);
        handled.push(`${req.method} ${req.url} ${typeof req.body === 'string' ? req.body : ''}`.trim());
        res.end(`served ${handled.length}`);
      });
      const running = await listen(app);
      running.server.keepAliveTimeout = 60_000;
      return running;
    }

    /**
     * The racing upstream behind a balancer: GET /warm leaves a pooled connection the
     * upstream will reset, and `sent` is the request that meets the reset.
     */
    async function afterWarmUp(
      sent: Parameters<typeof request>[1],
      options: Partial<LoadBalanceOptions> = {},
      before: RequestHandler[] = [],
    ): Promise<SimpleResponse> {
      upstream = await racingUpstream();
      balanced = await startBalancer({ targets: [upstream.url], ...options }, { before });
      await request(balanced.url, { path: '/warm' });
      return request(balanced.url, sent);
    }

    const streamedPut = { method: 'PUT', path: '/upload', headers: { 'content-type': 'text/plain' }, body: 'streamed' };

    it('sends a GET again on a fresh connection: the client never sees the reset', async () => {
      upstream = await racingUpstream();
      balanced = await startBalancer({ targets: [upstream.url] });
      expect((await request(balanced.url, { path: '/a' })).text).toBe('served 1');
      expect((await request(balanced.url, { path: '/b' })).text).toBe('served 2');
      expect(handled).toEqual(['GET /a', 'GET /b']);
      expect(balanced.lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 0 });
    });

    it('sends a PUT with a parsed body again, exactly once, on the fresh connection', async () => {
      const sent = { method: 'PUT', path: '/orders/7', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 7 }) };
      const res = await afterWarmUp(sent, {}, [express.json()]);
      expect(res.text).toBe('served 2');
      expect(handled).toEqual(['GET /warm', 'PUT /orders/7 {"id":7}']);
    });

    it('replays a streamed body it kept (within retryBufferSize) on the fresh connection', async () => {
      const res = await afterWarmUp(streamedPut);
      expect(res.text).toBe('served 2');
      expect(handled).toEqual(['GET /warm', 'PUT /upload streamed']);
    });

    it('does not replay a streamed body it could not keep: 502 instead', async () => {
      const res = await afterWarmUp(streamedPut, { retryBufferSize: 4 });
      expect(res.status).toBe(502);
      expect(handled).toEqual(['GET /warm']);
    });

    // The race and an upstream that read the request and then died look the same from
    // here; sending a POST again could do it twice.
    it.each(['POST', 'PATCH'])('does not send a %s again: 502, never twice', async (method) => {
      const sent = { method, path: '/orders', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 7 }) };
      const res = await afterWarmUp(sent, {}, [express.json()]);
      expect(res.status).toBe(502);
      expect(handled).toEqual(['GET /warm']);
    });
  });
});
