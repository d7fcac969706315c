import http from 'node:http';
import {
  BadGatewayError,
  GatewayTimeoutError,
  isLoadBalanceError,
  type LoadBalanceMiddleware,
  type LoadBalanceOptions,
} from 'express-load-balance';
import { closeAll, deadUrl, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

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
