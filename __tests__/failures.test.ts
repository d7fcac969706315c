import http from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import {
  BadGatewayError,
  GatewayTimeoutError,
  isLoadBalanceError,
  type LoadBalanceMiddleware,
  type LoadBalanceOptions,
} from 'express-load-balance';
import { closeAll, deadUrl, first, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

describe('upstream failures become proper HTTP answers through next(err)', () => {
  let upstream: Upstream | undefined;
  let balanced: Balanced | undefined;
  let lb: LoadBalanceMiddleware;
  let caught: unknown[];

  afterEach(async () => {
    await closeAll(balanced, upstream);
    balanced = upstream = undefined;
  });

  async function mount(options: LoadBalanceOptions): Promise<string> {
    balanced = await startBalancer(options);
    ({ lb, errors: caught } = balanced);
    return balanced.url;
  }

  it('answers 502 ELB_BAD_GATEWAY when the target refuses the connection', async () => {
    const target = await deadUrl();
    const url = await mount({ targets: [target] });
    const res = await request(url);
    expect(res.status).toBe(502);
    expect(caught).toHaveLength(1);
    const err = caught[0] as BadGatewayError;
    expect(err).toBeInstanceOf(BadGatewayError);
    expect(isLoadBalanceError(err)).toBe(true);
    expect([err.status, err.statusCode, err.code, err.target]).toEqual([502, 502, 'ELB_BAD_GATEWAY', target]);
    expect(lb.targets()[0]).toMatchObject({ inFlight: 0, requests: 1, failures: 1 });
  });

  it('answers 504 ELB_GATEWAY_TIMEOUT when no response headers come within timeout, and hangs up on the upstream', async () => {
    let upstreamSawClose!: () => void;
    const closed = new Promise<void>((resolve) => (upstreamSawClose = resolve));
    upstream = await startUpstream('silent', (app) => {
      app.get('/hang', (req) => void req.socket.on('close', upstreamSawClose));
    });
    const url = await mount({ targets: [upstream.url], timeout: 150 });
    const res = await request(url, { path: '/hang' });
    expect(res.status).toBe(504);
    expect(caught[0]).toBeInstanceOf(GatewayTimeoutError);
    expect((caught[0] as GatewayTimeoutError).code).toBe('ELB_GATEWAY_TIMEOUT');
    await closed;
    expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
  });

  it('sends a request once and answers 502 when a fresh connection is reset before any response', async () => {
    upstream = await startUpstream('reset', (app) => {
      app.post('/reset', (req) => void req.socket.destroy());
    });
    const url = await mount({ targets: [upstream.url] });
    const res = await request(url, { method: 'POST', path: '/reset', headers: { 'content-type': 'text/plain' }, body: 'once' });
    expect(res.status).toBe(502);
    expect(upstream.seen.filter((r) => r.url === '/reset')).toHaveLength(1);
    expect(lb.targets()[0]).toMatchObject({ inFlight: 0, requests: 1, failures: 1 });
  });

  it('breaks the client connection when the upstream dies mid-body, so a short body never looks complete', async () => {
    upstream = await startUpstream('dies', (app) => {
      app.get('/partial', (req, res) => {
        res.setHeader('content-length', '100000');
        res.write(Buffer.alloc(1000, 'a'), () => req.socket.destroy());
      });
    });
    const url = await mount({ targets: [upstream.url] });
    const outcome = await new Promise<string>((resolve) => {
      http
        .get(`${url}/partial`, { agent: false }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => resolve('complete'));
          res.on('error', () => resolve('broken'));
          res.on('aborted', () => resolve('broken'));
        })
        .on('error', () => resolve('broken'));
    });
    expect(outcome).toBe('broken');
    expect(caught).toHaveLength(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
  });

  it('reports failures on the error event, and a throwing listener breaks nothing', async () => {
    const target = await deadUrl();
    const url = await mount({ targets: [target] });
    const seen: string[] = [];
    lb.on('error', ({ error }) => seen.push((error as BadGatewayError).code ?? error.message));
    lb.on('proxyReq', () => {
      throw new Error('listener bug');
    });
    const res = await request(url);
    expect(res.status).toBe(502);
    expect(seen).toEqual(['listener bug', 'ELB_BAD_GATEWAY']);
  });
});

// The response timer runs on real time (Node's socket timers), so these tests take
// real time: each keeps a margin of at least 200 ms on either side of `timeout`.
describe('how long an attempt may wait for its response headers (`timeout`)', () => {
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  it('restarts the timer while the request body is still flowing, so a slow upload is not cut off', async () => {
    const TIMEOUT_MS = 250;
    const CHUNKS = 10;
    const GAP_MS = 60; // 10 × 60 ms of upload: more than twice the timeout in all
    upstreams = [await startUpstream('patient')];
    balanced = await startBalancer({ targets: [upstreams[0]!.url], timeout: TIMEOUT_MS });
    const req = http.request(`${balanced.url}/upload`, { method: 'POST', agent: false, headers: { 'content-type': 'text/plain' } });
    const response = new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    for (let i = 0; i < CHUNKS; i++) {
      req.write(`chunk ${i};`);
      await delay(GAP_MS);
    }
    req.end();
    const res = await response;
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(upstreams[0]!.seen[0]!.body.toString()).toBe(Array.from({ length: CHUNKS }, (_, i) => `chunk ${i};`).join(''));
    expect(balanced.errors).toHaveLength(0);
  });

  it('answers 504 to a client whose upload stalled past the timeout, once it sends the rest', async () => {
    upstreams = [await startUpstream('silent', (app) => app.post('/upload', () => undefined))];
    balanced = await startBalancer({ targets: [upstreams[0]!.url], timeout: 100 });
    const failed = new Promise((resolve) => balanced!.lb.on('error', resolve));
    const req = http.request(`${balanced.url}/upload`, { method: 'POST', agent: false, headers: { 'content-type': 'text/plain' } });
    const response = new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    req.write('the first part;');
    await failed; // the client sent nothing for `timeout` ms
    req.end('x'.repeat(256 * 1024));
    const res = await response;
    res.resume();
    expect(res.statusCode).toBe(504);
    expect(balanced.errors).toEqual([expect.objectContaining({ code: 'ELB_GATEWAY_TIMEOUT' })]);
  });

  it('gives each attempt the full timeout, however long the attempts before it took', async () => {
    const TIMEOUT_MS = 600;
    const EACH_MS = 350; // two attempts together take longer than the timeout, each alone does not
    const answering = (status: number) => (app: Parameters<NonNullable<Parameters<typeof startUpstream>[1]>>[0]) =>
      app.get('/slow', (_req, res) => void setTimeout(() => res.status(status).send(`${status}`), EACH_MS));
    upstreams = [await startUpstream('busy', answering(503)), await startUpstream('ok', answering(200))];
    balanced = await startBalancer({ targets: upstreams.map((u) => u.url), strategy: first, retryOn: [503], timeout: TIMEOUT_MS });
    const res = await request(balanced.url, { path: '/slow' });
    expect([res.status, res.text]).toEqual([200, '200']);
    expect(upstreams.map((u) => u.seen.length)).toEqual([1, 1]);
  });
});
