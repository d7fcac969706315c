import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import express from 'express';
import {
  GatewayTimeoutError,
  loadBalance,
  PayloadTooLargeError,
  type LoadBalanceMiddleware,
  type LoadBalanceOptions,
  type MirrorEvent,
} from 'express-load-balance';
import { Registry } from 'prom-client';
import { systemClock } from '../src/clock';
import { MirrorCopy, type CopyOutcome } from '../src/forwarding/mirror-copy';
import { MIRROR_PAUSE_MS } from '../src/forwarding/mirror';
import { parseTarget } from '../src/options/targets';
import { prometheusMetrics } from '../src/prometheus';
import { blackHole, type BlackHole } from './helpers/black-hole';
import { collect } from './helpers/events';
import { fakeRuntime } from './helpers/fake-clock';
import { Holder, runConcurrently, seededRandom } from './helpers/hold';
import {
  closeAll,
  deadUrl,
  listen,
  request,
  startBalancer,
  startUpstream,
  type Balanced,
  type SimpleResponse,
  type Upstream,
} from './helpers/servers';

/** Collects `mirror` events, so a test can await the moment copies have ended. */
function mirrorEvents(lb: LoadBalanceMiddleware): { events: MirrorEvent[]; count(n: number): Promise<void> } {
  return collect(lb, 'mirror');
}

/** Sends `parts` as a chunked body, one write per part, each after the previous one was flushed. */
function chunkedPost(url: string, path: string, parts: readonly Buffer[]): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    const req = http.request(
      { host: hostname, port, method: 'POST', path, agent: false, headers: { 'content-type': 'application/octet-stream' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, statusMessage: '', headers: res.headers, rawHeaders: [], body, text: body.toString() });
        });
      },
    );
    req.on('error', reject);
    const write = (i: number): void => {
      if (i === parts.length) req.end();
      else req.write(parts[i], () => setImmediate(() => write(i + 1)));
    };
    write(0);
  });
}

/** Headers as an upstream saw them, without Host, which the mirror gets changed on purpose. */
function withoutHost(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const rest = { ...headers };
  delete rest.host;
  return rest;
}

describe('traffic mirroring', () => {
  let primary: Upstream;
  let mirror: Upstream;
  let balanced: Balanced | undefined;
  let others: Array<{ close(): Promise<void> } | undefined> = [];
  const holder = new Holder();

  beforeEach(async () => {
    primary = await startUpstream('primary');
    mirror = await startUpstream('mirror', holder.route('/held'));
  });
  afterEach(async () => {
    holder.releaseAll();
    await closeAll(balanced, primary, mirror, ...others);
    balanced = undefined;
    others = [];
  });

  async function start(options: Partial<LoadBalanceOptions>, extra: Parameters<typeof startBalancer>[1] = {}) {
    balanced = await startBalancer({ targets: [primary.url], ...options }, extra);
    return { balanced, copies: mirrorEvents(balanced.lb) };
  }

  describe('what the mirror receives', () => {
    it('copies method, path after pathRewrite under its own base path, headers and a streamed body, byte for byte', async () => {
      const { balanced, copies } = await start({
        targets: [`${primary.url}/v1`],
        pathRewrite: { '^/old/': '/new/' },
        mirror: { targets: [`${mirror.url}/shadow`] },
      });
      const body = randomBytes(300_000);
      const res = await request(balanced.url, {
        method: 'PUT',
        path: '/old/items/7?q=1&r=%2F',
        headers: { 'content-type': 'application/octet-stream', 'x-trace': 'abc', cookie: 'a=1' },
        body,
      });
      expect(res.status).toBe(200);
      expect(res.text).toBe('Response from server Test: primary');
      await copies.count(1);
      const [original, copy] = [primary.seen[0]!, mirror.seen[0]!];
      expect(original.url).toBe('/v1/new/items/7?q=1&r=%2F');
      expect(copy.method).toBe('PUT');
      expect(copy.url).toBe('/shadow/new/items/7?q=1&r=%2F');
      expect(withoutHost(copy.headers)).toEqual(withoutHost(original.headers));
      expect(copy.body.equals(body)).toBe(true);
      expect(original.body.equals(body)).toBe(true);
    });

    it("sets Host to the mirror's with -shadow appended, as Envoy does", async () => {
      const { balanced, copies } = await start({ mirror: { targets: [mirror.url] } });
      await request(balanced.url, { path: '/x' });
      await copies.count(1);
      expect(mirror.seen[0]!.headers.host).toBe(`127.0.0.1:${mirror.port}-shadow`);
      expect(primary.seen[0]!.headers.host).toBe(`127.0.0.1:${primary.port}`);
    });

    it('copies a chunked body of unknown length as it arrives', async () => {
      const { balanced, copies } = await start({ mirror: { targets: [mirror.url] } });
      const parts = Array.from({ length: 8 }, () => randomBytes(20_000));
      const res = await chunkedPost(balanced.url, '/upload', parts);
      expect(res.status).toBe(200);
      await copies.count(1);
      expect(copies.events[0]!.status).toBe(200);
      expect(mirror.seen[0]!.body.equals(Buffer.concat(parts))).toBe(true);
      expect(mirror.seen[0]!.headers['transfer-encoding']).toBe('chunked');
    });

    it('copies a body express.json() parsed before the balancer as the same bytes the primary gets', async () => {
      const { balanced, copies } = await start({ mirror: { targets: [mirror.url] } }, { before: [express.json()] });
      const res = await request(balanced.url, {
        method: 'POST',
        path: '/things',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'zoë', n: [1, 2] }),
      });
      expect(res.status).toBe(200);
      await copies.count(1);
      const [original, copy] = [primary.seen[0]!, mirror.seen[0]!];
      expect(copy.body.equals(original.body)).toBe(true);
      expect(JSON.parse(copy.body.toString('utf8'))).toEqual({ name: 'zoë', n: [1, 2] });
      expect(copy.headers['content-length']).toBe(String(original.body.length));
      expect(withoutHost(copy.headers)).toEqual(withoutHost(original.headers));
    });

    it('sends one copy per client request, not one per attempt, and spreads copies round robin', async () => {
      const second = await startUpstream('second mirror');
      others.push(second);
      const { balanced, copies } = await start({
        targets: [await deadUrl(), primary.url],
        strategy: (targets) => targets[0],
        mirror: { targets: [mirror.url, second.url] },
      });
      for (let i = 0; i < 4; i++) expect((await request(balanced.url, { path: `/r${i}` })).status).toBe(200);
      await copies.count(4);
      expect(mirror.seen.map((r) => r.url)).toEqual(['/r0', '/r2']);
      expect(second.seen.map((r) => r.url)).toEqual(['/r1', '/r3']);
      expect(copies.events.map((e) => e.target.url)).toEqual([mirror.url, second.url, mirror.url, second.url]);
    });
  });

  describe('sampling', () => {
    it('with sample 0.1, copies between 150 and 250 of 2,000 requests', async () => {
      const { balanced, copies } = await start(
        { mirror: { targets: [mirror.url], sample: 0.1 } },
        { runtime: { clock: systemClock, random: seededRandom(15) } },
      );
      const agent = new http.Agent({ keepAlive: true });
      const statuses = await runConcurrently(2000, 16, async (i) => {
        const res = await new Promise<number>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port: balanced.front.port, path: `/s${i}`, agent }, (r) => {
              r.resume();
              r.on('end', () => resolve(r.statusCode ?? 0));
            })
            .on('error', reject);
        });
        return res;
      });
      agent.destroy();
      expect(statuses.every((status) => status === 200)).toBe(true);
      const { sent } = balanced.lb.stats().mirror!;
      expect(sent).toBeGreaterThanOrEqual(150);
      expect(sent).toBeLessThanOrEqual(250);
      await copies.count(sent);
      expect(mirror.seen).toHaveLength(sent);
    });

    it('copies nothing with sample 0', async () => {
      const { balanced } = await start({ mirror: { targets: [mirror.url], sample: 0 } });
      for (let i = 0; i < 5; i++) await request(balanced.url);
      expect(balanced.lb.stats().mirror).toMatchObject({ sent: 0, skipped: 0 });
      expect(mirror.seen).toHaveLength(0);
    });
  });

  describe('a mirror that is down, hangs or is slow changes nothing for clients', () => {
    it('answers clients while the mirror holds its answer', async () => {
      const { balanced, copies } = await start({ mirror: { targets: [mirror.url] } });
      const res = await request(balanced.url, { path: '/held' });
      expect(res.text).toBe('Response from server Test: primary');
      await holder.arrived(1);
      expect(balanced.lb.stats().mirror).toMatchObject({ inFlight: 1, sent: 1 });
      holder.releaseAll();
      await copies.count(1);
      expect(copies.events[0]).toMatchObject({ status: 200, target: { url: mirror.url } });
      expect(balanced.lb.stats().mirror).toMatchObject({ inFlight: 0, sent: 1, failed: 0 });
    });

    it('counts copies to a mirror that refuses connections as failed, and pauses it, doubling the pause', async () => {
      const refused = await deadUrl();
      const runtime = fakeRuntime();
      const { balanced, copies } = await start({ mirror: { targets: [refused] } }, { runtime });
      const post = async (): Promise<void> => {
        const res = await request(balanced.url, { method: 'POST', body: 'hello' });
        expect([res.status, res.text]).toEqual([200, 'Response from server Test: primary']);
      };

      await post();
      await copies.count(1);
      expect((copies.events[0]!.error as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
      await post(); // paused for MIRROR_PAUSE_MS: skipped
      runtime.clock.advance(MIRROR_PAUSE_MS);
      await post();
      await copies.count(2);
      runtime.clock.advance(2 * MIRROR_PAUSE_MS - 1);
      await post(); // the second refusal in a row doubled the pause
      expect(balanced.lb.stats().mirror).toMatchObject({ sent: 2, skipped: 2 });
      runtime.clock.advance(1);
      await post();
      await copies.count(3);
      expect(balanced.lb.stats().mirror).toEqual({ targets: [refused], inFlight: 0, sent: 3, skipped: 2, failed: 3 });
      expect(primary.seen.map((r) => r.body.toString())).toEqual(['hello', 'hello', 'hello', 'hello', 'hello']);
    });

    it('goes on copying to the other mirror targets while one is paused', async () => {
      const refused = await deadUrl();
      const mirror = await startUpstream('mirror');
      others.push(mirror);
      const { balanced, copies } = await start({ mirror: { targets: [refused, mirror.url] } }, { runtime: fakeRuntime() });
      for (let i = 0; i < 4; i++) {
        await request(balanced.url, { method: 'POST', body: `body ${i}` });
        await copies.count(i + 1);
      }
      expect(copies.events.map((e) => e.target.url)).toEqual([refused, mirror.url, mirror.url, mirror.url]);
      expect(balanced.lb.stats().mirror).toMatchObject({ sent: 4, skipped: 0, failed: 1 });
    });

    it('holds at most maxInFlight copies to a mirror that never answers, skips the rest, and frees them after timeout', async () => {
      const hanging = await listen(() => undefined);
      others.push(hanging);
      const runtime = fakeRuntime();
      const { balanced, copies } = await start({ timeout: 1_000, mirror: { targets: [hanging.url], maxInFlight: 3 } }, { runtime });
      for (let i = 0; i < 10; i++) {
        const res = await request(balanced.url, { method: 'POST', body: `body ${i}` });
        expect([res.status, res.text]).toEqual([200, 'Response from server Test: primary']);
      }
      expect(balanced.lb.stats().mirror).toMatchObject({ inFlight: 3, sent: 3, skipped: 7, failed: 0 });
      expect(hanging.sockets).toHaveLength(3);
      runtime.clock.advance(1_000);
      await copies.count(3);
      expect(copies.events.every((e) => e.error instanceof GatewayTimeoutError && e.durationMs === 1_000)).toBe(true);
      expect(balanced.lb.stats().mirror).toMatchObject({ inFlight: 0, sent: 3, skipped: 7, failed: 3 });
      await request(balanced.url);
      expect(balanced.lb.stats().mirror).toMatchObject({ inFlight: 1, sent: 4 });
    });

    it('does not pause the upload while the mirror cannot even connect', async () => {
      const hole: BlackHole = await blackHole();
      others.push(hole);
      const { balanced } = await start({ mirror: { targets: [hole.url] } });
      const body = randomBytes(900_000);
      const res = await request(balanced.url, { method: 'POST', body });
      expect(res.status).toBe(200);
      expect(primary.seen[0]!.body.equals(body)).toBe(true);
      expect(balanced.lb.stats().mirror).toMatchObject({ inFlight: 1, sent: 1 });
    });

    it('aborts the copy when the client breaks off its upload', async () => {
      const { balanced, copies } = await start({ mirror: { targets: [mirror.url] } }, { runtime: fakeRuntime() });
      const client = http.request({ host: '127.0.0.1', port: balanced.front.port, method: 'POST', path: '/gone', agent: false });
      client.on('error', () => undefined);
      const copyArrived = once(mirror.server, 'request');
      client.write(randomBytes(10_000));
      await copyArrived;
      client.destroy();
      await copies.count(1);
      expect(copies.events[0]!.error).toBeDefined();
      expect(balanced.lb.stats().mirror).toMatchObject({ inFlight: 0, sent: 1, failed: 1 });
    });

    it('aborts open copies when the balancer closes', async () => {
      const hanging = await listen(() => undefined);
      others.push(hanging);
      const { balanced, copies } = await start({ mirror: { targets: [hanging.url] } });
      await request(balanced.url);
      await request(balanced.url);
      await balanced.lb.close();
      await copies.count(2);
      expect(copies.events.every((e) => e.error !== undefined)).toBe(true);
      expect(balanced.lb.stats().mirror).toMatchObject({ inFlight: 0, failed: 2 });
      await Promise.all(hanging.sockets.filter((socket) => !socket.closed).map((socket) => once(socket, 'close')));
    });
  });

  describe('maxBodySize', () => {
    it('does not copy a request that declares a larger body, and forwards it whole', async () => {
      const { balanced } = await start({ mirror: { targets: [mirror.url], maxBodySize: 1_000 } });
      const body = randomBytes(5_000);
      const res = await request(balanced.url, { method: 'POST', body });
      expect(res.status).toBe(200);
      expect(primary.seen[0]!.body.equals(body)).toBe(true);
      expect(balanced.lb.stats().mirror).toMatchObject({ sent: 0, skipped: 1 });
      expect(mirror.seen).toHaveLength(0);
    });

    it('aborts only the copy when a chunked body outgrows it', async () => {
      const { balanced, copies } = await start({ mirror: { targets: [mirror.url], maxBodySize: 1_000 } });
      const parts = Array.from({ length: 5 }, () => randomBytes(800));
      const res = await chunkedPost(balanced.url, '/big', parts);
      expect([res.status, res.text]).toEqual([200, 'Response from server Test: primary']);
      expect(primary.seen[0]!.body.equals(Buffer.concat(parts))).toBe(true);
      await copies.count(1);
      expect(copies.events[0]!.error).toBeInstanceOf(PayloadTooLargeError);
      expect(balanced.lb.stats().mirror).toMatchObject({ sent: 1, failed: 1 });
      // The mirror never got a complete body: what it saw, if anything, was cut.
      expect(mirror.seen.every((seen) => seen.body.length < 5 * 800)).toBe(true);
    });

    it('does not copy a parsed body whose re-serialised form is larger', async () => {
      const { balanced } = await start({ mirror: { targets: [mirror.url], maxBodySize: 10 } }, { before: [express.json()] });
      await request(balanced.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":"0123456789"}' });
      expect(balanced.lb.stats().mirror).toMatchObject({ sent: 0, skipped: 1 });
    });
  });

  describe('observability', () => {
    it('shows the counters in Prometheus metrics and on the status page', async () => {
      const { balanced, copies } = await start({ queue: { size: 5, timeout: 60_000 }, mirror: { targets: [mirror.url], maxBodySize: 0 } });
      const registry = new Registry();
      prometheusMetrics(balanced.lb, { registry });
      await request(balanced.url);
      await request(balanced.url, { method: 'POST', body: 'too big' });
      await copies.count(1);
      const text = await registry.metrics();
      const lines = text.split('\n').filter((line) => line.startsWith('elb_mirror_'));
      expect(lines).toEqual([
        'elb_mirror_sent_total 1',
        'elb_mirror_skipped_total 1',
        'elb_mirror_failed_total 0',
        'elb_mirror_in_flight_requests 0',
      ]);
      expect(text).toContain('elb_queue_length 0');
      const app = express();
      app.get('/status', balanced.lb.statusHandler());
      const page = await listen(app);
      others.push(page);
      const html = await request(page.url, { path: '/status', headers: { accept: 'text/html' } });
      expect(html.text).toContain(`Mirror (${mirror.url}): 1 copies sent, 0 failed, 1 skipped, 0 in flight.`);
    });

    it('has no mirror metrics or stats when mirroring is off', async () => {
      const { balanced } = await start({});
      expect(balanced.lb.stats().mirror).toBeUndefined();
      const registry = new Registry();
      expect(prometheusMetrics(balanced.lb, { registry }).names.some((name) => name.includes('mirror'))).toBe(false);
    });
  });
});

describe('a copy to an https mirror', () => {
  it('never offers the -shadow Host as the TLS server name', async () => {
    const offered: string[] = [];
    const server = tls.createServer({
      SNICallback: (name, callback) => {
        offered.push(name);
        callback(new Error('no certificate here'));
      },
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    // A mirror reached by address whose Host names it otherwise: Node would take the
    // server name from that Host unless it is given one.
    const target = { ...parseTarget(`https://127.0.0.1:${port}`, 'target'), hostHeader: 'mirror.test' };
    const agent = new https.Agent();
    const outcome = await new Promise<CopyOutcome>((resolve) => {
      new MirrorCopy(
        {
          target,
          method: 'GET',
          path: '/',
          headers: { host: 'mirror.test-shadow' },
          body: undefined,
          agent,
          maxBodySize: 0,
          timeout: 5_000,
          clock: systemClock,
        },
        (_copy, ended) => resolve(ended),
      );
    });
    agent.destroy();
    server.close();
    expect(outcome.error).toBeDefined();
    expect(offered).toEqual([]);
  });
});

describe('the mirror option', () => {
  const targets = ['http://127.0.0.1:3000'];
  it.each([
    [{ targets: [] }, 'option "mirror.targets" must be a non-empty array of mirror URLs, got an array'],
    [{ targets: 'http://127.0.0.1:4000' }, 'option "mirror.targets" must be a non-empty array of mirror URLs, got "http://127.0.0.1:4000"'],
    [{ targets: [{ url: 'http://127.0.0.1:4000' }] }, 'option "mirror.targets[0]" must be an absolute http(s) URL string, got an object'],
    [{ targets: ['ftp://127.0.0.1:4000'] }, 'option "mirror.targets[0]" must use http: or https:'],
    [{ targets: ['http://127.0.0.1:4000', 'http://127.0.0.1:4000/'] }, 'option "mirror.targets[1]" duplicates another target'],
    [{ targets: ['http://127.0.0.1:4000'], sample: 1.5 }, 'option "mirror.sample" must be a number from 0 to 1, got 1.5'],
    [{ targets: ['http://127.0.0.1:4000'], maxBodySize: 1.5 }, 'option "mirror.maxBodySize" must be a whole number of at least 0, got 1.5'],
    [{ targets: ['http://127.0.0.1:4000'], maxInFlight: 0 }, 'option "mirror.maxInFlight" must be a whole number of at least 1, got 0'],
    [{ targets: ['http://127.0.0.1:4000'], samples: 0.1 }, 'option "mirror.samples" is not a known setting'],
    ['http://127.0.0.1:4000', 'option "mirror" must be an object { targets, sample, maxBodySize, maxInFlight }'],
  ])('refuses %j', (mirror, message) => {
    expect(() => loadBalance({ targets, mirror } as unknown as LoadBalanceOptions)).toThrow(TypeError);
    expect(() => loadBalance({ targets, mirror } as unknown as LoadBalanceOptions)).toThrow(message);
  });

  it('takes the issue example', async () => {
    const lb = loadBalance({
      targets,
      mirror: { targets: ['http://127.0.0.1:4000'], sample: 0.1, maxBodySize: 1_048_576, maxInFlight: 100 },
    });
    expect(lb.stats().mirror).toEqual({ targets: ['http://127.0.0.1:4000'], inFlight: 0, sent: 0, skipped: 0, failed: 0 });
    await lb.close();
  });
});
