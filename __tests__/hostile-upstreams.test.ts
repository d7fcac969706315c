import { once } from 'node:events';
import http from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import type { LoadBalanceError, LoadBalanceMiddleware } from 'express-load-balance';
import { respond, startRawUpstream, type RawUpstream } from './helpers/raw-upstream';
import { closeAll, listen, request, startBalancer, type Balanced, type RunningServer } from './helpers/servers';

/**
 * Resolves once the balancer has settled every exchange: at once, or at the `proxyEnd`
 * of the last open attempt (its in-flight count is down by then). An attempt that never
 * ends makes the test time out here.
 */
function settled(lb: LoadBalanceMiddleware): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (lb.targets().some((t) => t.inFlight > 0)) return;
      lb.off('proxyEnd', check);
      resolve();
    };
    lb.on('proxyEnd', check);
    check();
  });
}

/** GETs `path` and reports how the response ended, reading the body without keeping it. */
function download(url: string, path: string): Promise<{ status: number; bytes: number; outcome: 'complete' | 'broken' }> {
  return new Promise((resolve) => {
    let status = 0;
    let bytes = 0;
    const done = (outcome: 'complete' | 'broken'): void => resolve({ status, bytes, outcome });
    http
      .get(`${url}${path}`, { agent: false }, (res) => {
        status = res.statusCode ?? 0;
        res.on('data', (chunk: Buffer) => (bytes += chunk.length));
        res.on('end', () => done('complete'));
        res.on('error', () => done('broken'));
        res.on('aborted', () => done('broken'));
      })
      .on('error', () => done('broken'));
  });
}

describe('hostile or broken upstreams', () => {
  let upstream: RunningServer | RawUpstream | undefined;
  let other: RunningServer | RawUpstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, upstream, other);
    balanced = upstream = other = undefined;
  });

  async function through(target: { url: string }): Promise<Balanced> {
    balanced = await startBalancer({ targets: [target.url] });
    return balanced;
  }

  describe('response size and length', () => {
    it('streams a 50 MB response through to the end', async () => {
      const size = 50 * 1024 * 1024;
      const chunk = Buffer.alloc(64 * 1024, 'x');
      upstream = await listen((_req, res) => {
        res.setHeader('content-length', String(size));
        let sent = 0;
        const pump = (): void => {
          while (sent < size) {
            sent += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
      });
      const { url, lb } = await through(upstream);

      const result = await download(url, '/big');

      expect(result).toEqual({ status: 200, bytes: size, outcome: 'complete' });
      await settled(lb);
      expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 0 });
    });

    it('hangs up on a never-ending response once the client goes away', async () => {
      let upstreamClosed!: () => void;
      const closed = new Promise<void>((resolve) => (upstreamClosed = resolve));
      const chunk = Buffer.alloc(16 * 1024, 'y');
      upstream = await listen((_req, res) => {
        res.on('close', upstreamClosed);
        const pump = (): void => {
          while (!res.destroyed) {
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
        };
        pump();
      });
      const { url, lb, errors } = await through(upstream);

      const req = http.get(`${url}/forever`, { agent: false });
      req.on('error', () => undefined);
      const [res] = (await once(req, 'response')) as [http.IncomingMessage];
      res.on('error', () => undefined);
      let bytes = 0;
      for await (const part of res) {
        bytes += (part as Buffer).length;
        if (bytes >= 1024 * 1024) break;
      }
      req.destroy();

      await closed;
      await settled(lb);
      expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 0 });
      expect(errors).toEqual([]);
    });

    it('breaks the client response when the upstream sends less than its Content-Length and closes', async () => {
      upstream = await startRawUpstream(respond(['HTTP/1.1 200 OK', 'Content-Length: 1000'], 'z'.repeat(100)));
      const { url, lb, errors } = await through(upstream);

      const result = await download(url, '/short');

      expect(result.outcome).toBe('broken');
      expect(result.bytes).toBeLessThan(1000);
      expect(errors).toEqual([]);
      await settled(lb);
      expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
    });

    it('breaks the client response when a chunked upstream body stops before its last chunk', async () => {
      // The client hop is chunked too: only a broken connection tells the client the body is short.
      upstream = await startRawUpstream(respond(['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked'], '5\r\nhello\r\n'));
      const { url, lb, errors } = await through(upstream);

      const result = await download(url, '/cut');

      expect(result.outcome).toBe('broken');
      expect(errors).toEqual([]);
      await settled(lb);
      expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
    });
  });

  describe('responses that are not valid HTTP answer 502 ELB_BAD_GATEWAY', () => {
    // [what is wrong, the bytes the upstream sends]
    it.each<[string, string]>([
      ['two different Content-Length values', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
      [
        'a Content-Length next to chunked Transfer-Encoding',
        'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      ],
      ['a NUL byte in a header value', 'HTTP/1.1 200 OK\r\nX-Bad: a\x00b\r\nContent-Length: 2\r\n\r\nok'],
      ['a bare CR in a header value', 'HTTP/1.1 200 OK\r\nX-Bad: a\rb\r\nContent-Length: 2\r\n\r\nok'],
      ['a DEL byte in a header value', 'HTTP/1.1 200 OK\r\nX-Bad: a\x7fb\r\nContent-Length: 2\r\n\r\nok'],
      ['a space in a header name', 'HTTP/1.1 200 OK\r\nX Bad: 1\r\nContent-Length: 2\r\n\r\nok'],
      ['a garbage status line', 'garbage\r\n\r\n'],
      ['an SSH banner', 'SSH-2.0-OpenSSH_9.6\r\n'],
      ['a body with no status line', 'hello world'],
      ['a four-digit status code', 'HTTP/1.1 1000 Huge\r\nContent-Length: 2\r\n\r\nok'],
      // Node's parser accepts this one; Node's server would throw writing it.
      ['a status code below 100', 'HTTP/1.1 099 Low\r\nContent-Length: 2\r\n\r\nok'],
      ['a 101 Switching Protocols nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nContent-Length: 2\r\n\r\nok'],
      ['a 101 with Upgrade nobody asked for', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: upgrade\r\n\r\nraw'],
    ])('%s', async (_what, bytes) => {
      upstream = await startRawUpstream((socket) => socket.end(Buffer.from(bytes, 'latin1')));
      const { url, lb, errors } = await through(upstream);

      const res = await request(url, { path: '/bad' });

      expect(res.status).toBe(502);
      expect(errors).toHaveLength(1);
      expect((errors[0] as LoadBalanceError).code).toBe('ELB_BAD_GATEWAY');
      await settled(lb);
      expect(lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 1 });
    });
  });

  it('names the status it could not forward in the cause of its 502, for the logs', async () => {
    upstream = await startRawUpstream(respond(['HTTP/1.1 099 Low', 'Content-Length: 2'], 'ok'));
    const { url, errors } = await through(upstream);

    await request(url, { path: '/low' });

    expect(((errors[0] as LoadBalanceError).cause as Error).message).toBe('upstream status 99 is not a final response');
  });

  it('answers with the standard reason phrase when the upstream one holds a NUL', async () => {
    upstream = await startRawUpstream(respond(['HTTP/1.1 200 O\x00K', 'Content-Length: 2'], 'ok'));
    const { url, errors } = await through(upstream);

    const res = await request(url, { path: '/reason' });

    expect([res.status, res.statusMessage, res.text]).toEqual([200, 'OK', 'ok']);
    expect(errors).toEqual([]);
  });

  describe('what the upstream says is passed on, never acted on', () => {
    const plain = 'a body the balancer must not touch '.repeat(100);
    // [Content-Encoding, the encoded body]
    it.each<[string, Buffer]>([
      ['gzip', gzipSync(plain)],
      ['deflate', deflateSync(plain)],
      ['br', brotliCompressSync(plain)],
    ])('passes a %s body through byte for byte, even to a client that did not ask for it', async (encoding, encoded) => {
      upstream = await listen((_req, res) => {
        res.setHeader('content-encoding', encoding);
        res.setHeader('content-type', 'text/plain');
        res.setHeader('content-length', String(encoded.length));
        res.end(encoded);
      });
      const { url } = await through(upstream);

      const res = await request(url, { path: '/zipped' });

      expect(res.status).toBe(200);
      expect(res.headers['content-encoding']).toBe(encoding);
      expect(res.headers['content-length']).toBe(String(encoded.length));
      expect(res.body.equals(encoded)).toBe(true);
    });

    it.each([[301], [302], [303], [307], [308]])(
      'passes a %i redirect to another host to the client and never follows it',
      async (status) => {
        const canary = await startRawUpstream(respond(['HTTP/1.1 200 OK', 'Content-Length: 6'], 'canary'));
        other = canary;
        upstream = await listen((_req, res) => {
          res.writeHead(status, { location: `${canary.url}/steal` }).end();
        });
        const { url } = await through(upstream);

        const res = await request(url, { method: 'POST', path: '/go', headers: { 'content-type': 'text/plain' }, body: 'secret' });

        expect(res.status).toBe(status);
        expect(res.headers.location).toBe(`${canary.url}/steal`);
        expect(canary.requests).toBe(0);
      },
    );

    it.each([
      ['a relative reference', '/login?next=%2Fadmin'],
      ['a protocol-relative reference', '//elsewhere.example/x'],
      ['an absolute URL with odd case and dot-segments', 'HTTPS://Elsewhere.EXAMPLE:443/a/../b?q=1#f'],
      ['a URL naming the upstream itself', 'http://127.0.0.1:1/internal'],
      ['text that is not a URL at all', 'not a url'],
    ])('keeps a Location header that is %s exactly as sent', async (_what, location) => {
      upstream = await startRawUpstream(respond(['HTTP/1.1 302 Found', `Location: ${location}`, 'Content-Length: 0']));
      const { url } = await through(upstream);

      const res = await request(url, { path: '/where' });

      expect(res.status).toBe(302);
      expect(res.headers.location).toBe(location);
    });
  });
});
