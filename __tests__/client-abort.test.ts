import { once } from 'node:events';
import http from 'node:http';
import type { LoadBalanceMiddleware } from 'express-load-balance';
import { closeAll, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

describe('when the client goes away', () => {
  let upstream: Upstream;
  let balanced: Balanced;
  let lb: LoadBalanceMiddleware;
  let appErrors: unknown[];
  let upstreamClosed: Promise<unknown>;
  let upstreamGotRequest: Promise<unknown>;

  beforeEach(async () => {
    let markClosed!: () => void;
    let markGot!: () => void;
    upstreamClosed = new Promise<void>((resolve) => (markClosed = resolve));
    upstreamGotRequest = new Promise<void>((resolve) => (markGot = resolve));
    upstream = await startUpstream('1', (app) => {
      app.get('/slow', (_req, res) => {
        res.on('close', markClosed);
        markGot();
      });
      app.get('/trickle', (_req, res) => {
        res.on('close', markClosed);
        res.write('first part ');
        markGot();
      });
    });
    balanced = await startBalancer({ targets: [upstream.url] });
    ({ lb, errors: appErrors } = balanced);
  });
  afterEach(() => closeAll(balanced, upstream));

  it('aborts the upstream request at once while waiting for the response, and no error reaches the app', async () => {
    const req = http.get(`${balanced.url}/slow`, { agent: false });
    req.on('error', () => undefined);
    await upstreamGotRequest;
    req.destroy();
    await upstreamClosed;
    await new Promise((resolve) => setImmediate(resolve));
    expect(appErrors).toEqual([]);
    expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 0 });
  });

  it('aborts the upstream response mid-body', async () => {
    const req = http.get(`${balanced.url}/trickle`, { agent: false });
    req.on('error', () => undefined);
    const [res] = (await once(req, 'response')) as [http.IncomingMessage];
    res.on('error', () => undefined);
    await once(res, 'data');
    req.destroy();
    await upstreamClosed;
    await new Promise((resolve) => setImmediate(resolve));
    expect(appErrors).toEqual([]);
    expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 0 });
  });
});
