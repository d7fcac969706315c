// Hostile request heads and framing, sent as raw bytes, against a balancer in front of an
// upstream that records what it parsed and the raw bytes it received.
//
// Two protections are pinned here. Node's strict HTTP parser (llhttp) refuses every
// ambiguous head or framing with a 400 (431 for an oversized head) before Express sees
// it: running these tests with `--insecure-http-parser` turns the refusals red. And the
// balancer frames each body again for the upstream hop (Node's client writes its own
// chunked or Content-Length framing; the client's Transfer-Encoding is hop-by-hop and
// dropped), so bytes in a body can never become a second upstream request
// (request smuggling, RFC 9112 §11.2).
import type { Socket } from 'node:net';
import { rawRequest } from './helpers/raw-client';
import { closeAll, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

/** A request that would reach the upstream as a second one if the framing were misread. */
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';

describe('hostile request heads and framing', () => {
  let upstream: Upstream | undefined;
  let balanced: Balanced | undefined;
  let received: Buffer[] = [];
  afterEach(() => closeAll(balanced, upstream));

  async function setUp(): Promise<{ upstream: Upstream; balanced: Balanced }> {
    upstream = await startUpstream('1');
    received = [];
    // Adding a 'data' listener makes Node's server hand the socket's bytes to it too.
    upstream.server.on('connection', (socket: Socket) => socket.on('data', (chunk: Buffer) => received.push(chunk)));
    balanced = await startBalancer({ targets: [upstream.url] });
    return { upstream, balanced };
  }

  /** Everything the upstream received, as sent. */
  const upstreamBytes = (): string => Buffer.concat(received).toString('latin1');

  /** The head of the one request the upstream received, lower-cased. */
  function upstreamHead(): string {
    const text = upstreamBytes();
    return text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase();
  }

  describe("refused by Node's parser before anything is forwarded", () => {
    it.each([
      ['a bare LF ending a header line inside a value', 'GET /h HTTP/1.1\r\nHost: x\r\nX-A: a\nX-Injected: 1', ''],
      ['a bare CR inside a value', 'GET /h HTTP/1.1\r\nHost: x\r\nX-A: a\rX-Injected: 1', ''],
      ['an obs-fold continuation line (space)', 'GET /h HTTP/1.1\r\nHost: x\r\nX-A: a\r\n X-Injected: 1', ''],
      ['an obs-fold continuation line (tab)', 'GET /h HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tX-Injected: 1', ''],
      ['a NUL inside a value', 'GET /h HTTP/1.1\r\nHost: x\r\nX-A: a\0X-Injected: 1', ''],
      ['a LF inside a header name', 'GET /h HTTP/1.1\r\nHost: x\r\nX-A\nX-Injected: 1', ''],
      ['whitespace between a header name and its colon', 'GET /h HTTP/1.1\r\nHost: x\r\nX-A : a', ''],
      ['two different Content-Lengths', 'POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40', `hello${SMUGGLED}`],
      ['two identical Content-Lengths', 'POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 5', `hello${SMUGGLED}`],
      ['a Content-Length list', 'POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 5', `hello${SMUGGLED}`],
      ['a signed Content-Length', 'POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: +5', `hello${SMUGGLED}`],
      ['a negative Content-Length', 'POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: -1', SMUGGLED],
      [
        'CL.TE: Content-Length before Transfer-Encoding: chunked',
        'POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked',
        `0\r\n\r\n${SMUGGLED}`,
      ],
      [
        'TE.CL: Transfer-Encoding: chunked before Content-Length',
        'POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4',
        `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
      ],
      [
        'Transfer-Encoding: chunked, identity (chunked not last)',
        'POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity',
        `0\r\n\r\n${SMUGGLED}`,
      ],
      ['Transfer-Encoding: xchunked', 'POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked', `0\r\n\r\n${SMUGGLED}`],
      [
        'a duplicated Transfer-Encoding header',
        'POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked',
        `0\r\n\r\n${SMUGGLED}`,
      ],
      [
        'whitespace before the colon of Transfer-Encoding',
        'POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked',
        `0\r\n\r\n${SMUGGLED}`,
      ],
      [
        'a bare LF in a chunk extension',
        'POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked',
        `5;a\nb\r\nhello\r\n0\r\n\r\n${SMUGGLED}`,
      ],
      ['chunks framed with bare LFs', 'POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked', `5\nhello\n0\n\n${SMUGGLED}`],
    ])('answers 400 to %s, and the upstream receives not a byte', async (_case, head, body) => {
      const { balanced } = await setUp();
      const response = await rawRequest(balanced.front.port, head, body);
      expect(response.status).toBe(400);
      expect(upstreamBytes()).toBe('');
      expect(upstream!.seen).toEqual([]);
    });

    it("answers 431 to a head larger than Node's 16 KiB limit, and the upstream receives not a byte", async () => {
      const { balanced } = await setUp();
      const response = await rawRequest(balanced.front.port, `GET /h HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17 * 1024)}`);
      expect(response.status).toBe(431);
      expect(upstreamBytes()).toBe('');
    });
  });

  describe('accepted, and forwarded as exactly one well-framed request', () => {
    /**
     * The upstream got one request to /h with `body`, framed by one header only. A
     * follow-up request, sent on the same pooled upstream connection, must come next:
     * a request smuggled into that connection would be parsed before it.
     */
    async function expectOneRequest(body: string): Promise<void> {
      expect(upstream!.seen[0]!.body.toString('latin1')).toBe(body);
      const head = upstreamHead();
      const framing = head.split('\r\n').filter((line) => /^(content-length|transfer-encoding):/.test(line));
      expect(framing).toHaveLength(1);
      expect((await rawRequest(balanced!.front.port, 'GET /after HTTP/1.1\r\nHost: x')).status).toBe(200);
      expect(upstream!.sockets).toHaveLength(1);
      expect(upstream!.seen.map((seen) => seen.url)).toEqual(['/h', '/after']);
    }

    it('forwards a percent-encoded CR LF in a value as inert text, adding no header', async () => {
      const { balanced, upstream } = await setUp();
      const response = await rawRequest(balanced.front.port, 'GET /h HTTP/1.1\r\nHost: x\r\nX-A: a%0d%0aX-Injected: 1');
      expect(response.status).toBe(200);
      expect(upstream.seen[0]!.headers['x-a']).toBe('a%0d%0aX-Injected: 1');
      expect(upstream.seen[0]!.headers['x-injected']).toBeUndefined();
      expect(upstreamHead()).not.toMatch(/\r\nx-injected:/);
    });

    it('forwards bytes above 0x7F in a value unchanged, without splitting the line', async () => {
      const { balanced, upstream } = await setUp();
      // The raw client writes UTF-8: U+0085 (NEL, a line break in Unicode) is sent as C2 85.
      const value = 'caf\u00e9\u0085X-Injected: 1';
      const response = await rawRequest(balanced.front.port, `GET /h HTTP/1.1\r\nHost: x\r\nX-A: ${value}`);
      expect(response.status).toBe(200);
      // Node reads header bytes as latin1, one character per byte.
      expect(upstream.seen[0]!.headers['x-a']).toBe(Buffer.from(value, 'utf8').toString('latin1'));
      expect(upstream.seen[0]!.headers['x-injected']).toBeUndefined();
    });

    it('passes a request hidden in a Content-Length body on as that body, not as a second request', async () => {
      const { balanced } = await setUp();
      // Bytes that would end a chunked body and start a new request if the hop were
      // framed with the client's bytes instead of its own Content-Length.
      const body = `0\r\n\r\n${SMUGGLED}`;
      const response = await rawRequest(balanced.front.port, `POST /h HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}`, body);
      expect(response.status).toBe(200);
      await expectOneRequest(body);
      expect(upstreamHead()).toContain(`\r\ncontent-length: ${body.length}`);
    });

    it('passes a request hidden in a chunked body on as that body, framed again chunk by chunk', async () => {
      const { balanced } = await setUp();
      const response = await rawRequest(
        balanced.front.port,
        'POST /h HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked',
        `${SMUGGLED.length.toString(16)}\r\n${SMUGGLED}\r\n0\r\n\r\n`,
      );
      expect(response.status).toBe(200);
      await expectOneRequest(SMUGGLED);
      expect(upstreamHead()).toContain('\r\ntransfer-encoding: chunked');
    });

    it.each([
      ['Transfer-Encoding: identity, chunked', 'Transfer-Encoding: identity, chunked'],
      ['Transfer-Encoding: CHUNKED', 'Transfer-Encoding: CHUNKED'],
      ['a tab before chunked', 'Transfer-Encoding:\tchunked'],
    ])('reads %s as chunked and frames it again with its own chunked encoding only', async (_case, line) => {
      const { balanced } = await setUp();
      const response = await rawRequest(balanced.front.port, `POST /h HTTP/1.1\r\nHost: x\r\n${line}`, '5\r\nhello\r\n0\r\n\r\n');
      expect(response.status).toBe(200);
      await expectOneRequest('hello');
      // The client's own value is never replayed: the upstream sees Node's framing.
      expect(upstreamHead()).toContain('\r\ntransfer-encoding: chunked');
      expect(upstreamHead()).not.toContain('identity');
    });
  });
});
