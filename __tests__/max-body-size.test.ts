import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import express from 'express';
import { loadBalance, PayloadTooLargeError, type LoadBalanceOptions } from 'express-load-balance';
import {
  closeAll,
  deadUrl,
  listen,
  request,
  startBalancer,
  startUpstream,
  type Balanced,
  type RunningServer,
  type Upstream,
} from './helpers/servers';

const KiB = 1024;

/** An app's own error handler: answers as JSON, a turn later, as one that awaits something would. */
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express takes a handler for an error handler only if it has four parameters
const answerAsJson: express.ErrorRequestHandler = (err, _req, res, _next) => {
  const { status, code, limit } = err as PayloadTooLargeError;
  setImmediate(() => res.status(status).json({ code, limit }));
};

describe('the maxBodySize option', () => {
  it.each([[-1], [1.5], ['1000'], [null], [NaN]])('is refused at construction when it is %p', (value) => {
    expect(() => loadBalance({ targets: ['http://127.0.0.1:1'], maxBodySize: value } as unknown as LoadBalanceOptions)).toThrow(
      /option "maxBodySize" must be a whole number/,
    );
  });

  it.each([[0], [1024], [Infinity]])('accepts %p', (value) => {
    expect(() => loadBalance({ targets: ['http://127.0.0.1:1'], maxBodySize: value })).not.toThrow();
  });
});

describe('a request body larger than maxBodySize', () => {
  let upstream: Upstream | undefined;
  let recorder: RunningServer | undefined;
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, upstream, recorder));

  /**
   * Sends `head` then `body` on a raw socket and reads until the server closes. The
   * tests send only part of a body they declare: an answer proves nobody waited for it.
   */
  async function raw(port: number, head: string, body: string): Promise<string> {
    const socket = net.connect(port, '127.0.0.1');
    socket.write(`${head}\r\n\r\n${body}`);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    await once(socket, 'close');
    return Buffer.concat(chunks).toString('latin1');
  }

  it('is answered 413 from its Content-Length alone, before the body is read or an upstream contacted', async () => {
    upstream = await startUpstream('1');
    const lb = loadBalance({ targets: [upstream.url], maxBodySize: 1000 });
    const app = express();
    app.use(lb);
    const errors: unknown[] = [];
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express takes a handler for an error handler only if it has four parameters
    app.use(((err, _req, res, _next) => {
      errors.push(err);
      res.status((err as PayloadTooLargeError).status).send((err as PayloadTooLargeError).code);
    }) as express.ErrorRequestHandler);
    recorder = await listen(app);
    try {
      // Only the head and 3 of the 1001 bytes go out: an answer proves nobody waited for the body.
      const text = await raw(recorder.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001', 'abc');
      expect(text).toMatch(/^HTTP\/1\.1 413 /);
      expect(text).toMatch(/\r\nConnection: close\r\n/i);
      expect(text).toMatch(/ELB_PAYLOAD_TOO_LARGE$/);
      expect(upstream.seen).toEqual([]);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(PayloadTooLargeError);
      expect(errors[0]).toMatchObject({ status: 413, code: 'ELB_PAYLOAD_TOO_LARGE', limit: 1000 });
    } finally {
      await lb.close();
    }
  });

  it("is answered 413 by Express's default error handler before the body is read, without an upstream", async () => {
    // finalhandler waits for the request to finish before it answers; the balancer marks
    // the unread body as never to be read, so it answers at once.
    upstream = await startUpstream('1');
    balanced = await startBalancer({ targets: [upstream.url], maxBodySize: 1000 });
    const text = await raw(balanced.front.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001', 'abc');
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toMatch(/\r\nConnection: close\r\n/i);
    expect(upstream.seen).toEqual([]);
    expect(balanced.errors[0]).toMatchObject({ status: 413, code: 'ELB_PAYLOAD_TOO_LARGE' });
  });

  it('is answered at once by an app error handler, which shapes the answer', async () => {
    upstream = await startUpstream('1');
    const app = express();
    balanced = await startBalancer({ targets: [upstream.url], maxBodySize: 1000 }, { app });
    app.use(answerAsJson);
    const text = await raw(balanced.front.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576', 'abc');
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toMatch(/\r\nConnection: close\r\n/i);
    expect(text).toMatch(/\r\n\r\n\{"code":"ELB_PAYLOAD_TOO_LARGE","limit":1000\}$/);
    expect(upstream.seen).toEqual([]);
  });

  it('takes no more of the body off the connection once refused, while its error handler takes its time', async () => {
    upstream = await startUpstream('1');
    const app = express();
    balanced = await startBalancer({ targets: [upstream.url], maxBodySize: 1000 }, { app });
    const socket = net.connect(balanced.front.port, '127.0.0.1');
    let buffered = -1;
    // eslint-disable-next-line @typescript-eslint/no-unused-vars -- Express takes a handler for an error handler only if it has four parameters
    const slow: express.ErrorRequestHandler = (err, req, res, _next) => {
      // The client sends 256 KiB more before the answer. Another request served in the
      // meantime proves the server polled its connections after those bytes had arrived.
      socket.write(Buffer.alloc(256 * KiB, 'a'), () => {
        void request(balanced!.url, { path: '/other' }).then(() => {
          buffered = req.readableLength;
          res.status(413).end();
        });
      });
    };
    app.use(slow);
    socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\nabc');
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    await once(socket, 'close');
    expect(Buffer.concat(chunks).toString('latin1')).toMatch(/^HTTP\/1\.1 413 /);
    // Node's parser pushes what it reads into the request stream, unread here: only the
    // 3 bytes that came with the head are there.
    expect(buffered).toBe(3);
  });

  it('leaves keep-alive alone for bodies within the limit', async () => {
    upstream = await startUpstream('1');
    balanced = await startBalancer({ targets: [upstream.url], maxBodySize: 1000 });
    const head = 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 3';
    // Two requests on one connection, the second asking to close it: the first answer must leave it open.
    const text = await raw(balanced.front.port, head, `abc${head}\r\nConnection: close\r\n\r\nabc`);
    expect(text.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
    expect(text.match(/\r\nConnection: close\r\n/gi)).toHaveLength(1);
    expect(upstream.seen).toHaveLength(2);
  });

  it('is forwarded whole when its Content-Length equals maxBodySize', async () => {
    upstream = await startUpstream('1');
    balanced = await startBalancer({ targets: [upstream.url], maxBodySize: 1000 });
    const body = Buffer.alloc(1000, 'a');
    const res = await request(balanced.url, { method: 'POST', path: '/upload', body });
    expect(res.status).toBe(200);
    expect(upstream.seen[0]!.body.equals(body)).toBe(true);
  });

  /** An upstream that counts the body bytes it gets and whether the body ended. */
  async function startCounter(): Promise<{
    server: RunningServer;
    requests: Array<{ bytes: number; ended: boolean; closed: Promise<void> }>;
    /** Resolves once the first request's head arrived. */
    firstArrived: Promise<void>;
  }> {
    const requests: Array<{ bytes: number; ended: boolean; closed: Promise<void> }> = [];
    let arrived!: () => void;
    const firstArrived = new Promise<void>((resolve) => (arrived = resolve));
    const server = await listen((req, res) => {
      const entry = { bytes: 0, ended: false, closed: new Promise<void>((resolve) => req.once('close', () => resolve())) };
      requests.push(entry);
      arrived();
      // The balancer aborts an oversized body: an 'aborted' error here is the point.
      req.on('error', () => undefined);
      req.on('data', (chunk: Buffer) => (entry.bytes += chunk.length));
      req.on('end', () => {
        entry.ended = true;
        res.end(`got ${entry.bytes}`);
      });
    });
    return { server, requests, firstArrived };
  }

  /**
   * Sends a chunked body of `total` bytes in 16 KiB chunks, stopping once an answer
   * arrives; with `hold`, it stops after `hold.after` bytes until `hold.until` resolves.
   */
  function postChunked(
    url: string,
    total: number,
    hold?: { after: number; until: Promise<unknown> },
  ): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const { port } = new URL(url);
      const req = http.request({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/upload',
        agent: false,
        headers: { 'transfer-encoding': 'chunked' },
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        let body = '';
        res.on('data', (chunk: Buffer) => (body += String(chunk)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      // Once the balancer answered and closed, writes may fail with EPIPE/ECONNRESET: expected.
      req.on('error', (err) => {
        if (!answered) reject(err);
      });
      const chunk = Buffer.alloc(16 * KiB, 'b');
      let sent = 0;
      let held = false;
      const write = (): void => {
        while (!answered && sent < total) {
          if (hold !== undefined && !held && sent >= hold.after) {
            held = true;
            void hold.until.then(write);
            return;
          }
          sent += chunk.length;
          if (!req.write(chunk)) {
            req.once('drain', write);
            return;
          }
        }
        if (!answered) req.end();
      };
      write();
    });
  }

  it('is cut when a chunked body grows past it: 413, and the upstream never gets a complete body', async () => {
    const counter = await startCounter();
    recorder = counter.server;
    balanced = await startBalancer({ targets: [recorder.url], maxBodySize: 100 * KiB });
    // The rest of the body goes only once the upstream has the request, so there is a
    // body for it to (not) get whole.
    const res = await postChunked(balanced.url, 4096 * KiB, { after: 32 * KiB, until: counter.firstArrived });
    expect(res.status).toBe(413);
    expect(counter.requests).toHaveLength(1);
    const [seen] = counter.requests;
    await seen!.closed;
    expect(seen!.ended).toBe(false);
    expect(seen!.bytes).toBeLessThanOrEqual(100 * KiB);
    expect(balanced.errors[0]).toBeInstanceOf(PayloadTooLargeError);
    expect(balanced.errors[0]).toHaveProperty('message', `request body exceeds maxBodySize (${100 * KiB} bytes)`);
    // The client's excess is its fault, not the target's.
    expect(balanced.lb.targets()[0]!.failures).toBe(0);
  });

  it.each([
    ["Express's default error handler", undefined],
    ['an app error handler', answerAsJson],
  ])('is answered 413 by %s as soon as a chunked body outgrows it, before its end', async (_name, handler) => {
    const counter = await startCounter();
    recorder = counter.server;
    const app = express();
    balanced = await startBalancer({ targets: [recorder.url], maxBodySize: 1000 }, { app });
    if (handler !== undefined) app.use(handler);
    // 1500 bytes in one chunk and no last chunk: the upstream, which answers at the end, never answers.
    const text = await raw(
      balanced.front.port,
      'POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked',
      `5dc\r\n${'a'.repeat(1500)}\r\n`,
    );
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).toMatch(/\r\nConnection: close\r\n/i);
    if (handler !== undefined) expect(text).toMatch(/\{"code":"ELB_PAYLOAD_TOO_LARGE","limit":1000\}$/);
    await Promise.all(counter.requests.map((seen) => seen.closed));
    expect(counter.requests.every((seen) => !seen.ended)).toBe(true);
  });

  it('lets a chunked body up to maxBodySize through whole', async () => {
    const counter = await startCounter();
    recorder = counter.server;
    balanced = await startBalancer({ targets: [recorder.url], maxBodySize: 100 * KiB });
    const res = await postChunked(balanced.url, 96 * KiB);
    expect(res).toEqual({ status: 200, body: `got ${96 * KiB}` });
  });

  it('applies to a body express.json() already read, as re-serialised', async () => {
    upstream = await startUpstream('1');
    balanced = await startBalancer({ targets: [upstream.url], maxBodySize: 100 }, { before: [express.json({ limit: '1mb' })] });
    const big = await request(balanced.url, {
      method: 'POST',
      path: '/things',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'x'.repeat(200) }),
    });
    expect(big.status).toBe(413);
    expect(upstream.seen).toEqual([]);
    const small = await request(balanced.url, {
      method: 'POST',
      path: '/things',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'x' }),
    });
    expect(small.status).toBe(200);
    expect(upstream.seen).toHaveLength(1);
  });
});

describe('a client that goes on uploading after the only target failed', () => {
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced));

  /** A chunked upload to a balancer whose only target refuses connections, and the moment that request failed. */
  async function uploadToDeadTarget(maxBodySize: number): Promise<{ lb: Balanced; req: http.ClientRequest; failed: Promise<unknown> }> {
    const lb = await startBalancer({ targets: [await deadUrl()], maxBodySize, retries: 0 });
    balanced = lb;
    const failed = new Promise((resolve) => lb.lb.on('error', resolve));
    const req = http.request({
      host: '127.0.0.1',
      port: lb.front.port,
      method: 'POST',
      path: '/upload',
      agent: false,
      headers: { 'transfer-encoding': 'chunked' },
    });
    return { lb, req, failed };
  }

  // Express's error handler reads the rest of the body before it answers: it must get all of it.
  it.each([
    ['within maxBodySize', Infinity],
    ['past maxBodySize', 1000],
  ])('gets its 502 once it sent the rest, %s', async (_what, maxBodySize) => {
    const { lb, req, failed } = await uploadToDeadTarget(maxBodySize);
    const answered = once(req, 'response') as Promise<[http.IncomingMessage]>;
    req.write('a'.repeat(100));
    await failed;
    for (let i = 0; i < 20; i++) req.write('b'.repeat(1000));
    req.end();
    const [res] = await answered;
    res.resume();
    expect(res.statusCode).toBe(502);
    expect(lb.errors).toEqual([expect.objectContaining({ status: 502 })]);
  });

  it('may break off the upload after the failure: the balancer lets it go and serves the next request', async () => {
    const { lb, req, failed } = await uploadToDeadTarget(1000);
    req.on('error', () => undefined);
    req.write('a'.repeat(100));
    await failed;
    const [socket] = lb.front.sockets;
    const closed = new Promise((resolve) => socket!.once('close', resolve));
    req.destroy();
    await closed;
    expect((await request(lb.url)).status).toBe(502);
    expect(lb.errors.map((error) => (error as { status: number }).status)).toEqual([502, 502]);
  });
});

describe('a request with Expect: 100-continue, on a server that hands checkContinue to the app', () => {
  let upstream: Upstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, upstream));

  async function start(): Promise<Balanced> {
    upstream = await startUpstream('1');
    const app = express();
    const started = await startBalancer({ targets: [upstream.url], maxBodySize: 1000 }, { app });
    // Without this listener Node sends 100 Continue itself, before the app sees the request.
    started.front.server.on('checkContinue', app);
    return started;
  }

  /** Sends the head only, and the body only once `100 Continue` came; reads until the server closes. */
  async function expectContinue(port: number, head: string, body: string): Promise<string> {
    const socket = net.connect(port, '127.0.0.1');
    socket.write(`${head}\r\nExpect: 100-continue\r\n\r\n`);
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      const continued = !text.includes('100 Continue');
      text += chunk.toString('latin1');
      if (continued && text.includes('100 Continue')) socket.write(body);
    });
    await once(socket, 'close');
    return text;
  }

  it('gets the 413 instead of 100 Continue when its Content-Length is too large', async () => {
    balanced = await start();
    const text = await expectContinue(balanced.front.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001', 'a'.repeat(1001));
    expect(text).toMatch(/^HTTP\/1\.1 413 /);
    expect(text).not.toMatch(/100 Continue/);
    expect(text).toMatch(/\r\nConnection: close\r\n/i);
    expect(upstream!.seen).toEqual([]);
  });

  it('gets 100 Continue from the balancer, then the answer, when its body is within the limit', async () => {
    balanced = await start();
    const text = await expectContinue(
      balanced.front.port,
      'POST /upload HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 1000',
      'a'.repeat(1000),
    );
    expect(text).toMatch(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
    expect(upstream!.seen[0]!.body.length).toBe(1000);
  });
});
