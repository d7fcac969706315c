import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { closeAll, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

const MiB = 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 'x');

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Writes `total` bytes of CHUNK to `out`, respecting backpressure; returns their sha256. */
async function writeBytes(out: NodeJS.WritableStream, total: number): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += CHUNK.length) {
    const piece = CHUNK.subarray(0, Math.min(CHUNK.length, total - sent));
    hash.update(piece);
    if (!out.write(piece)) await once(out as NodeJS.EventEmitter, 'drain');
  }
  return hash.digest('hex');
}

describe('bodies stream through the balancer', () => {
  let upstream: Upstream;
  let balanced: Balanced;
  let firstChunkSeen: ReturnType<typeof deferred>;

  beforeEach(async () => {
    firstChunkSeen = deferred();
    upstream = await startUpstream('1', (app) => {
      // Sends one chunk, then waits until the test says the client has it: a balancer
      // that buffered the whole response would never deliver that first chunk.
      app.get('/download', (_req, res) => {
        res.setHeader('content-type', 'application/octet-stream');
        res.write(CHUNK);
        void firstChunkSeen.promise.then(async () => {
          await writeBytes(res, 20 * MiB);
          res.end();
        });
      });
      // Reports the first chunk as soon as it arrives, and the whole body's hash at the end.
      app.post('/upload', (req, res) => {
        const hash = createHash('sha256');
        let length = 0;
        req.on('data', (chunk: Buffer) => {
          if (length === 0) firstChunkSeen.resolve();
          length += chunk.length;
          hash.update(chunk);
        });
        req.on('end', () => res.json({ length, sha256: hash.digest('hex') }));
      });
    });
    balanced = await startBalancer({ targets: [upstream.url] });
  });
  afterEach(() => closeAll(balanced, upstream));

  it('delivers the first bytes of a download before the upstream has sent the rest', async () => {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
      http.get(`${balanced.url}/download`, { agent: false }, resolve).on('error', reject),
    );
    const received = createHash('sha256');
    let length = 0;
    res.on('data', (chunk: Buffer) => {
      received.update(chunk);
      length += chunk.length;
      if (length >= CHUNK.length) firstChunkSeen.resolve();
    });
    await once(res, 'end');
    expect(length).toBe(CHUNK.length + 20 * MiB);
    const expected = createHash('sha256');
    for (let sent = 0; sent < CHUNK.length + 20 * MiB; sent += CHUNK.length) expected.update(CHUNK);
    expect(received.digest('hex')).toBe(expected.digest('hex'));
  });

  it('delivers the first bytes of an upload before the client has sent the rest', async () => {
    const req = http.request(`${balanced.url}/upload`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/octet-stream', 'x-test-stream': '1' },
    });
    const response = new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    const whole = createHash('sha256').update(CHUNK);
    req.write(CHUNK);
    // Only once the upstream holds the first chunk does the client send the other 20 MiB.
    await firstChunkSeen.promise;
    for (let sent = 0; sent < 20 * MiB; sent += CHUNK.length) whole.update(CHUNK);
    await writeBytes(req, 20 * MiB);
    req.end();
    const res = await response;
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(JSON.parse(Buffer.concat(chunks).toString())).toEqual({ length: CHUNK.length + 20 * MiB, sha256: whole.digest('hex') });
    expect(upstream.seen[0]!.headers['transfer-encoding']).toBe('chunked');
  });
});

describe('back-pressure on an upload', () => {
  let upstream: Upstream;
  let balanced: Balanced;
  let upstreamReq: http.IncomingMessage | undefined;
  afterEach(async () => {
    upstreamReq?.destroy();
    await closeAll(balanced, upstream);
  });

  it('holds the client back while the upstream reads nothing, instead of taking the body into memory', async () => {
    upstream = await startUpstream('1', (app) => {
      // Takes the request and never reads its body.
      app.post('/stuck', (req) => {
        upstreamReq = req;
        req.pause();
      });
    });
    // The balancer's side of the client request: it emits 'pause' when the balancer stops reading it.
    let clientSide: http.IncomingMessage | undefined;
    const held = deferred();
    balanced = await startBalancer(
      { targets: [upstream.url] },
      {
        before: [
          (req, _res, next) => {
            clientSide = req;
            req.once('pause', held.resolve);
            next();
          },
        ],
      },
    );
    const paused = held.promise.then(() => 'held back' as const);
    const req = http.request(`${balanced.url}/stuck`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/octet-stream', 'x-test-stream': '1' },
    });
    req.on('error', () => undefined);
    // 64 MiB handed to the client's socket at once: a balancer that ignored the upstream's
    // back-pressure would read it all into the upstream request's buffer.
    for (let sent = 0; sent < 64 * MiB; sent += CHUNK.length) req.write(CHUNK);
    req.end();
    const allRead = once(req, 'finish').then(() => 'read it all' as const);

    expect(await Promise.race([paused, allRead])).toBe('held back');
    expect(clientSide!.readableFlowing).toBe(false);
    req.destroy();
  });
});

describe('memory of a balancer process', () => {
  let upstream: Upstream;
  let child: ChildProcess | undefined;
  afterEach(async () => {
    child?.stdin?.end();
    if (child && child.exitCode === null) await once(child, 'exit');
    await closeAll(upstream);
  });

  function rssKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]);
  }

  const linux = process.platform === 'linux' ? it : it.skip;
  linux(
    'stays flat while 64 MiB go down and 64 MiB go up',
    async () => {
      upstream = await startUpstream('1', (app) => {
        app.get('/big', async (_req, res) => {
          await writeBytes(res, 64 * MiB);
          res.end();
        });
        app.post('/big', (req, res) => {
          let length = 0;
          req.on('data', (chunk: Buffer) => (length += chunk.length));
          req.on('end', () => res.json({ length }));
        });
      });
      child = spawn(
        process.execPath,
        ['--expose-gc', '--require', 'tsx/cjs', path.join(__dirname, 'helpers/balancer-process.ts'), upstream.url],
        {
          cwd: path.join(__dirname, '..'),
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      const [line] = (await once(child.stdout!, 'data')) as [Buffer];
      const port = Number(/listening (\d+)/.exec(line.toString())![1]);
      const base = `http://127.0.0.1:${port}`;
      const get = (): Promise<number> =>
        new Promise((resolve, reject) =>
          http
            .get(`${base}/big`, { agent: false }, (res) => {
              let length = 0;
              res.on('data', (chunk: Buffer) => (length += chunk.length));
              res.on('end', () => resolve(length));
            })
            .on('error', reject),
        );

      // Warm up (JIT, pools), then measure the peak against the settled size.
      await get();
      const before = rssKiB(child.pid!, 'VmRSS');
      expect(await get()).toBe(64 * MiB);
      const req = http.request(`${base}/big`, { method: 'POST', agent: false, headers: { 'x-test-stream': '1' } });
      const answered = new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
      await writeBytes(req, 64 * MiB);
      req.end();
      const res = await answered;
      let body = '';
      for await (const chunk of res) body += String(chunk);
      expect(JSON.parse(body)).toEqual({ length: 64 * MiB });
      const grownMiB = (rssKiB(child.pid!, 'VmHWM') - before) / 1024;
      if (process.env.ELB_REPORT) console.log(`balancer peak RSS grew ${grownMiB.toFixed(1)} MiB for 128 MiB streamed`);
      // Buffering either body would hold 64 MiB.
      expect(grownMiB).toBeLessThan(24);
    },
    60_000,
  );
});
