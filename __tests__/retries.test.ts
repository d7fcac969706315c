import { once } from 'node:events';
import http from 'node:http';
import { GatewayTimeoutError, type LoadBalanceOptions, type RetryEvent } from 'express-load-balance';
import { blackHole, type BlackHole } from './helpers/black-hole';
import { closeAll, deadUrl, first, listen, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

/** An upstream whose routes fail in the ways the retry rules tell apart. */
function failing(name: string): Promise<Upstream> {
  return startUpstream(name, (app) => {
    app.all('/reset', (req) => void req.socket.destroy());
    app.all('/hang', () => undefined);
    app.all('/unavailable', (_req, res) => void res.status(503).send(`503 from ${name}`));
  });
}

describe('retries on another target', () => {
  let balanced: Balanced | undefined;
  let upstreams: Upstream[] = [];
  let hole: BlackHole | undefined;
  afterEach(async () => {
    await closeAll(balanced, hole, ...upstreams);
    balanced = hole = undefined;
    upstreams = [];
  });

  async function balance(targets: string[], options: Partial<LoadBalanceOptions> = {}): Promise<Balanced> {
    balanced = await startBalancer({ targets, outlierDetection: false, ...options });
    return balanced;
  }

  const seenOn = (upstream: Upstream, path: string) => upstream.seen.filter((r) => r.url === path).length;

  it.each(['GET', 'POST', 'PATCH'])('sends a %s refused by one target to the next: it never reached the application', async (method) => {
    const live = await startUpstream('live');
    upstreams = [live];
    const dead = await deadUrl();
    const lb = await balance([dead, live.url]);
    const retries: RetryEvent[] = [];
    lb.lb.on('retry', (event) => retries.push(event));
    const res = await request(lb.url, { method, path: '/orders', headers: { 'content-type': 'text/plain' }, body: 'id=1' });
    expect([res.status, res.text]).toEqual([200, 'Response from server Test: live']);
    expect(live.seen.map((r) => `${r.method} ${r.body.toString()}`)).toEqual([`${method} id=1`]);
    expect(retries.map((r) => [r.target.url, r.next.url, r.attempt])).toEqual([[dead, live.url, 2]]);
    expect(lb.lb.targets().map((t) => [t.requests, t.failures, t.inFlight])).toEqual([
      [1, 1, 0],
      [1, 0, 0],
    ]);
  });

  it('sends a request whose connection never completes to the next target after connectTimeout', async () => {
    hole = await blackHole();
    const live = await startUpstream('live');
    upstreams = [live];
    const lb = await balance([hole.url, live.url], { connectTimeout: 100 });
    const res = await request(lb.url, { method: 'POST', path: '/x', headers: { 'content-type': 'text/plain' }, body: 'once' });
    expect(res.text).toBe('Response from server Test: live');
    expect(lb.lb.targets()[0]).toMatchObject({ failures: 1, inFlight: 0 });
  });

  it('answers 504 when the only target never accepts the connection', async () => {
    hole = await blackHole();
    const lb = await balance([hole.url], { connectTimeout: 100 });
    const res = await request(lb.url);
    expect(res.status).toBe(504);
    expect(lb.errors[0]).toBeInstanceOf(GatewayTimeoutError);
  });

  it.each(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'])(
    'sends an idempotent %s again elsewhere after a reset once it was sent',
    async (method) => {
      upstreams = [await failing('a'), await startUpstream('b')];
      const lb = await balance(upstreams.map((u) => u.url));
      const res = await request(lb.url, { method, path: '/reset' });
      expect(res.status).toBe(200);
      expect([seenOn(upstreams[0]!, '/reset'), seenOn(upstreams[1]!, '/reset')]).toEqual([1, 1]);
    },
  );

  it.each(['POST', 'PATCH'])('never sends a %s twice once it may have reached the application: 502', async (method) => {
    upstreams = [await failing('a'), await startUpstream('b')];
    const lb = await balance(upstreams.map((u) => u.url));
    const res = await request(lb.url, { method, path: '/reset', headers: { 'content-type': 'text/plain' }, body: 'pay' });
    expect(res.status).toBe(502);
    expect([seenOn(upstreams[0]!, '/reset'), seenOn(upstreams[1]!, '/reset')]).toEqual([1, 0]);
  });

  // With `first`, the first attempt goes to `a`, a retry to `b`.
  it('sends a GET that timed out to the next target, and answers a timed-out POST with 504', async () => {
    upstreams = [await failing('a'), await startUpstream('b')];
    const lb = await balance(
      upstreams.map((u) => u.url),
      { timeout: 150, strategy: first },
    );
    expect((await request(lb.url, { path: '/hang' })).text).toBe('Response from server Test: b');
    const post = await request(lb.url, { method: 'POST', path: '/hang', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(post.status).toBe(504);
    expect(seenOn(upstreams[1]!, '/hang')).toBe(1);
  });

  it('gives the last answer when every target answers a status retryOn lists', async () => {
    upstreams = [await failing('a'), await failing('b')];
    const [a, b] = upstreams as [Upstream, Upstream];
    const lb = await balance([a.url, b.url], { retryOn: [503], strategy: first });
    const get = await request(lb.url, { path: '/unavailable' });
    expect([get.status, get.text]).toEqual([503, '503 from b']);
    expect([seenOn(a, '/unavailable'), seenOn(b, '/unavailable')]).toEqual([1, 1]);
  });

  it('retries a status listed in retryOn for idempotent methods only', async () => {
    upstreams = [await failing('a'), await startUpstream('b')];
    const [a, b] = upstreams as [Upstream, Upstream];
    const lb = await balance([a.url, b.url], { retryOn: [503], strategy: first });
    expect((await request(lb.url, { path: '/unavailable' })).text).toBe('Response from server Test: b');
    const post = await request(lb.url, { method: 'POST', path: '/unavailable', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect([post.status, post.text]).toEqual([503, '503 from a']);
    expect(seenOn(b, '/unavailable')).toBe(1);
  });

  it('passes an upstream 503 through untouched when retryOn does not list it', async () => {
    upstreams = [await failing('a'), await startUpstream('b')];
    const lb = await balance(upstreams.map((u) => u.url));
    const res = await request(lb.url, { path: '/unavailable' });
    expect([res.status, res.text]).toEqual([503, '503 from a']);
  });

  it('never retries on the target that just failed while another is usable, and stops after `retries`', async () => {
    const live = await startUpstream('live');
    upstreams = [live];
    const dead = [await deadUrl(), await deadUrl(), await deadUrl()];
    const lb = await balance([...dead, live.url], { retries: 2 });
    const res = await request(lb.url);
    expect(res.status).toBe(502);
    expect(lb.lb.targets().map((t) => t.requests)).toEqual([1, 1, 1, 0]);
    expect((await request(lb.url)).status).toBe(200);
  });

  it('does not retry at all with retries: 0', async () => {
    const live = await startUpstream('live');
    upstreams = [live];
    const lb = await balance([await deadUrl(), live.url], { retries: 0 });
    expect((await request(lb.url)).status).toBe(502);
  });

  it('does not retry a streamed body larger than retryBufferSize', async () => {
    upstreams = [await failing('a'), await startUpstream('b')];
    const lb = await balance(
      upstreams.map((u) => u.url),
      { retryBufferSize: 16 },
    );
    const big = 'x'.repeat(1000);
    const res = await request(lb.url, { method: 'PUT', path: '/reset', headers: { 'content-type': 'text/plain' }, body: big });
    expect(res.status).toBe(502);
    const small = await request(lb.url, { method: 'PUT', path: '/reset', headers: { 'content-type': 'text/plain' }, body: 'tiny' });
    expect(small.status).toBe(200);
    expect(upstreams[1]!.seen.filter((r) => r.url === '/reset').map((r) => r.body.toString())).toEqual(['tiny']);
  });

  it('does not retry a body that outgrew retryBufferSize over several chunks', async () => {
    let headSeen!: () => void;
    const headArrived = new Promise<void>((resolve) => (headSeen = resolve));
    const resetting = await listen((req) => {
      headSeen();
      req.resume();
      req.on('end', () => req.socket.destroy());
    });
    const b = await startUpstream('b');
    upstreams = [b];
    const lb = await balance([resetting.url, b.url], { retryBufferSize: 16, strategy: first });
    try {
      const req = http.request({ host: '127.0.0.1', port: lb.front.port, method: 'PUT', path: '/doc', agent: false });
      const answered = once(req, 'response') as Promise<[http.IncomingMessage]>;
      req.write('x'.repeat(10));
      await headArrived;
      req.end('y'.repeat(10));
      const [res] = await answered;
      res.resume();
      expect(res.statusCode).toBe(502);
      expect(b.seen).toEqual([]);
    } finally {
      await resetting.close();
    }
  });

  it('retries a streamed body of exactly retryBufferSize bytes: all of it was kept', async () => {
    upstreams = [await failing('a'), await startUpstream('b')];
    const lb = await balance(
      upstreams.map((u) => u.url),
      { retryBufferSize: 16, strategy: first },
    );
    const body = 'x'.repeat(16);
    const res = await request(lb.url, { method: 'PUT', path: '/reset', headers: { 'content-type': 'text/plain' }, body });
    expect(res.status).toBe(200);
    expect(upstreams[1]!.seen.map((r) => r.body.toString())).toEqual([body]);
  });

  it('ends a chunked body on the next target when the client had sent all of it before the first one failed', async () => {
    upstreams = [await failing('a'), await startUpstream('b')];
    const lb = await balance(
      upstreams.map((u) => u.url),
      { strategy: first },
    );
    const res = await request(lb.url, {
      method: 'PUT',
      path: '/reset',
      headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
      body: 'whole',
    });
    expect(res.status).toBe(200);
    expect(upstreams[0]!.seen.map((r) => r.body.toString())).toEqual(['whole']);
    expect(upstreams[1]!.seen.map((r) => r.body.toString())).toEqual(['whole']);
  });

  it('stops reading the client while a retry waits for an async interceptor, so the body stays whole', async () => {
    const live = await startUpstream('live');
    upstreams = [live];
    let clientSide: http.IncomingMessage | undefined;
    balanced = await startBalancer(
      { targets: [await deadUrl(), live.url], strategy: first, outlierDetection: false, retryBufferSize: 16 },
      {
        before: [
          (req, _res, next) => {
            clientSide = req;
            next();
          },
        ],
      },
    );
    // The first attempt goes out at once; the retry waits for `gate`, as behind an interceptor that fetches a token.
    let calls = 0;
    let retryHeld!: (paused: boolean) => void;
    const heldAtRetry = new Promise<boolean>((resolve) => (retryHeld = resolve));
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    balanced.lb.axios.interceptors.request.use((config) => {
      if (++calls === 1) return config;
      retryHeld(clientSide!.isPaused());
      return gate.then(() => config);
    });
    const req = http.request(`${balanced.url}/upload`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' },
    });
    const answered = new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    req.write('first.');

    // Reading on now would take the rest past retryBufferSize and drop what was kept for the retry.
    expect(await heldAtRetry).toBe(true);
    req.end('x'.repeat(64));
    openGate();
    const res = await answered;
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(live.seen.map((r) => r.body.toString())).toEqual(['first.' + 'x'.repeat(64)]);
  });

  it('sends the rest of a body that arrives after the retry began to the next target once, in order', async () => {
    let headSeen!: () => void;
    const headArrived = new Promise<void>((resolve) => (headSeen = resolve));
    const bodies: string[] = [];
    const live = await listen((req, res) => {
      let body = '';
      headSeen();
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        bodies.push(body);
        res.end('ok');
      });
    });
    const lb = await balance([await deadUrl(), live.url], { strategy: first });
    try {
      const { port } = new URL(lb.url);
      const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: '/doc', agent: false });
      const answered = once(req, 'response') as Promise<[http.IncomingMessage]>;
      req.write('first part, ');
      // The first attempt was refused and the retry reached `live` before the rest was sent.
      await headArrived;
      req.end('second part');
      const [res] = await answered;
      res.resume();
      expect(res.statusCode).toBe(200);
      expect(bodies).toEqual(['first part, second part']);
    } finally {
      await live.close();
    }
  });

  it('retries nothing once response bytes went to the client', async () => {
    const a = await startUpstream('a', (app) => {
      app.get('/partial', (req, res) => {
        res.setHeader('content-length', '1000');
        res.write('part', () => req.socket.destroy());
      });
    });
    const b = await startUpstream('b');
    upstreams = [a, b];
    const lb = await balance([a.url, b.url]);
    await expect(request(lb.url, { path: '/partial' })).rejects.toThrow();
    expect(seenOn(b, '/partial')).toBe(0);
  });
});
