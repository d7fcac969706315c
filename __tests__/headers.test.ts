import { once } from 'node:events';
import http, { type IncomingHttpHeaders } from 'node:http';
import express from 'express';
import { rawRequest, type RawResponse } from './helpers/raw-client';
import { respond, startRawUpstream } from './helpers/raw-upstream';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type SeenRequest, type Upstream } from './helpers/servers';

/** Pairs of a rawHeaders array, names lower-cased, in order. */
function pairs(rawHeaders: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < rawHeaders.length; i += 2) out.push([rawHeaders[i]!.toLowerCase(), rawHeaders[i + 1]!]);
  return out;
}

function valuesOf(headers: Array<[string, string]>, name: string): string[] {
  return headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

describe('request headers', () => {
  let upstream: Upstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, upstream));

  async function setUp(preserveHost?: boolean): Promise<{ upstream: Upstream; balanced: Balanced }> {
    upstream = await startUpstream('real');
    balanced = await startBalancer(preserveHost === undefined ? { targets: [upstream.url] } : { targets: [upstream.url], preserveHost });
    return { upstream, balanced };
  }

  /**
   * Sends `head` as raw bytes through a fresh balancer: its answer, the request the
   * upstream received, and that request's headers (`seen`).
   */
  async function sendRaw(
    head: string,
  ): Promise<{ response: RawResponse; received: SeenRequest; seen: IncomingHttpHeaders; upstream: Upstream }> {
    const { upstream, balanced } = await setUp();
    const response = await rawRequest(balanced.front.port, head);
    const received = upstream.seen[0]!;
    return { response, received, seen: received.headers, upstream };
  }

  it.each([
    ['Connection', 'Connection: x-secret, X-Other'],
    ['Keep-Alive', 'Keep-Alive: timeout=99, max=7'],
    ['Proxy-Connection', 'Proxy-Connection: keep-alive'],
    ['TE', 'TE: trailers'],
    ['Trailer', 'Trailer: X-Checksum'],
    ['Upgrade', 'Upgrade: h2c'],
    ['Proxy-Authorization', 'Proxy-Authorization: Basic cHJveHk6c2VjcmV0'],
    ['Proxy-Authenticate', 'Proxy-Authenticate: Basic realm="proxy"'],
  ])('does not forward the hop-by-hop %s header', async (name, line) => {
    const { response, seen } = await sendRaw(`GET /h HTTP/1.1\r\nHost: front\r\n${line}\r\nX-Kept: yes`);

    expect(response.status).toBe(200);
    expect(seen['x-kept']).toBe('yes');
    const key = name.toLowerCase();
    // The balancer's own connection to the upstream has its own Connection header.
    if (key === 'connection') expect(seen.connection).toBe('keep-alive');
    else expect(seen[key]).toBeUndefined();
  });

  it('answers Expect: 100-continue itself, and does not pass Expect on', async () => {
    const { upstream, balanced } = await setUp();
    const req = http.request(`${balanced.url}/upload`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'text/plain', 'content-length': '4', expect: '100-continue' },
    });
    const response = new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    // The body goes only once the balancer said 100 Continue.
    await once(req, 'continue');
    req.end('body');
    const res = await response;
    res.resume();
    expect(res.statusCode).toBe(200);
    expect(upstream.seen[0]!.headers.expect).toBeUndefined();
    expect(upstream.seen[0]!.body.toString()).toBe('body');
  });

  it('does not forward the headers the client Connection header names', async () => {
    const { seen } = await sendRaw(
      'GET /h HTTP/1.1\r\nHost: front\r\nConnection: keep-alive, X-Secret\r\nConnection: x-other\r\nX-Secret: 1\r\nX-Other: 2\r\nX-Kept: yes',
    );

    expect(seen['x-secret']).toBeUndefined();
    expect(seen['x-other']).toBeUndefined();
    expect(seen['x-kept']).toBe('yes');
  });

  // rawRequest always sends Connection: close; X-Other makes it a list.
  it.each([
    ['alone', ''],
    ['in a list', '\r\nConnection: x-other'],
  ])('does not forward a Close header when Connection names close %s (RFC 9110 §7.6.1)', async (_where, more) => {
    const { seen } = await sendRaw(`GET /h HTTP/1.1\r\nHost: front${more}\r\nClose: yes\r\nX-Kept: yes`);

    expect(seen.close).toBeUndefined();
    expect(seen['x-kept']).toBe('yes');
  });

  it('cannot be made to drop the headers the balancer sets by naming them in Connection', async () => {
    const { seen, upstream } = await sendRaw(
      'GET /h HTTP/1.1\r\nHost: front\r\nConnection: host, x-forwarded-for, x-forwarded-proto, x-forwarded-host\r\nX-Forwarded-For: 6.6.6.6',
    );

    expect(seen.host).toBe(`127.0.0.1:${upstream.port}`);
    // The list the client named as hop-by-hop is dropped; the real peer is still added.
    expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('front');
  });

  it('forwards the client end-to-end headers unchanged', async () => {
    const { upstream, balanced } = await setUp();
    const sent = {
      'user-agent': 'curl/8.5.0',
      accept: 'text/html;q=0.9, */*;q=0.1',
      'accept-language': 'fr-CH, fr;q=0.9',
      'accept-encoding': 'br',
      authorization: 'Bearer abc.def',
      cookie: 'a=1; b=2',
      'cache-control': 'no-cache',
      'if-none-match': '"v1"',
      'x-request-id': '42',
      'x-custom': '  padded value ',
    };

    await request(balanced.url, { path: '/h', headers: sent });

    const seen = upstream.seen[0]!.headers;
    // Node trims surrounding whitespace of a value on parsing, on either side.
    expect(seen).toMatchObject({ ...sent, 'x-custom': 'padded value' });
  });

  it('adds nothing of its own but Host and X-Forwarded-* to a bare GET', async () => {
    const { seen } = await sendRaw('GET /h HTTP/1.1\r\nHost: front');

    expect(Object.keys(seen).sort()).toEqual(['connection', 'host', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);
  });

  it('adds no Content-Type, Accept or User-Agent to a bodiless POST', async () => {
    const { received: seen } = await sendRaw('POST /h HTTP/1.1\r\nHost: front\r\nContent-Length: 0');

    expect(seen.method).toBe('POST');
    expect(seen.body).toHaveLength(0);
    for (const name of ['content-type', 'accept', 'user-agent', 'accept-encoding']) {
      expect(seen.headers[name]).toBeUndefined();
    }
  });

  it('sets Host to the target host and port', async () => {
    const { upstream, balanced } = await setUp();

    await request(balanced.url, { path: '/h', headers: { host: 'shop.example:8080' } });

    expect(upstream.seen[0]!.headers.host).toBe(`127.0.0.1:${upstream.port}`);
  });

  it('keeps the client Host with preserveHost', async () => {
    const { upstream, balanced } = await setUp(true);

    await request(balanced.url, { path: '/h', headers: { host: 'shop.example:8080' } });

    expect(upstream.seen[0]!.headers.host).toBe('shop.example:8080');
  });

  // [incoming X-Forwarded-For header lines, what the upstream sees]
  it.each([
    [[], '127.0.0.1'],
    [['1.2.3.4'], '1.2.3.4, 127.0.0.1'],
    [['1.2.3.4, 10.0.0.1'], '1.2.3.4, 10.0.0.1, 127.0.0.1'],
    [['1.2.3.4', '10.0.0.1'], '1.2.3.4, 10.0.0.1, 127.0.0.1'],
  ])('appends the peer address to the X-Forwarded-For %j of a trusted proxy', async (incoming, expected) => {
    upstream = await startUpstream('real');
    const app = express();
    app.set('trust proxy', true);
    balanced = await startBalancer({ targets: [upstream.url] }, { app });
    const lines = incoming.map((value) => `\r\nX-Forwarded-For: ${value}`).join('');

    await rawRequest(balanced.front.port, `GET /h HTTP/1.1\r\nHost: front${lines}`);

    expect(upstream.seen[0]!.headers['x-forwarded-for']).toBe(expected);
  });

  it.each([[['1.2.3.4']], [['1.2.3.4, 10.0.0.1']], [['1.2.3.4', '10.0.0.1']]])(
    'sends only the peer address when trust proxy is off, whatever X-Forwarded-For %j says',
    async (incoming) => {
      const lines = incoming.map((value) => `\r\nX-Forwarded-For: ${value}`).join('');

      const { seen } = await sendRaw(`GET /h HTTP/1.1\r\nHost: front${lines}`);

      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    },
  );

  it('sends no X-Forwarded-Host for a request whose Host is empty', async () => {
    const { seen } = await sendRaw('GET /h HTTP/1.1\r\nHost:');

    expect(seen['x-forwarded-host']).toBeUndefined();
  });

  it('sets X-Forwarded-Proto to the scheme the client used and X-Forwarded-Host to its Host', async () => {
    const { upstream, balanced } = await setUp();

    // What the client claims is replaced: this hop was plain HTTP.
    await request(balanced.url, {
      path: '/h',
      headers: { host: 'shop.example:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'spoofed.example' },
    });

    const seen = upstream.seen[0]!.headers;
    expect(seen['x-forwarded-proto']).toBe('http');
    expect(seen['x-forwarded-host']).toBe('shop.example:8080');
  });
});

describe('response headers', () => {
  let upstream: { url: string; close(): Promise<void> } | undefined;
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, upstream));

  const HEAD = [
    'HTTP/1.1 200 OK',
    'Content-Type: text/plain',
    'Connection: X-Up, close',
    'X-Up: 1',
    'Keep-Alive: timeout=99, max=7',
    'Proxy-Connection: keep-alive',
    'Proxy-Authenticate: Basic realm="up"',
    'Upgrade: h2c',
    'Trailer: X-Checksum',
    'TE: trailers',
    'Set-Cookie: a=1; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT',
    'Set-Cookie: b=2; HttpOnly',
    'Set-Cookie: c=3',
    'Link: </a.css>; rel=preload',
    'Link: </b.js>; rel=preload',
    'WWW-Authenticate: Basic realm="a"',
    'WWW-Authenticate: Bearer realm="b"',
    'X-Multi: one',
    'X-Multi: two',
    'X-Kept: yes',
    'Transfer-Encoding: chunked',
  ];

  async function fetchThrough(): Promise<Array<[string, string]>> {
    upstream = await startRawUpstream(respond(HEAD, '5\r\nhello\r\n0\r\n\r\n'));
    balanced = await startBalancer({ targets: [upstream.url] });
    const response = await request(balanced.url, { path: '/r' });
    expect(response.status).toBe(200);
    expect(response.text).toBe('hello');
    return pairs(response.rawHeaders);
  }

  it.each([['connection'], ['keep-alive'], ['proxy-connection'], ['proxy-authenticate'], ['upgrade'], ['trailer'], ['te']])(
    'does not pass the hop-by-hop %s header back to the client',
    async (name) => {
      const headers = await fetchThrough();

      // The balancer's own server writes its own Connection header for the client hop
      // (close, as the test client asked).
      if (name === 'connection') expect(valuesOf(headers, 'connection')).toEqual(['close']);
      else expect(valuesOf(headers, name)).toEqual([]);
    },
  );

  it('does not pass the upstream Transfer-Encoding on: an HTTP/1.0 client gets the plain body', async () => {
    upstream = await startRawUpstream(respond(HEAD, '5\r\nhello\r\n0\r\n\r\n'));
    balanced = await startBalancer({ targets: [upstream.url] });

    // HTTP/1.0 has no chunked coding (RFC 9112 §6.1): the balancer's server ends the body
    // by closing, unless a forwarded Transfer-Encoding header made it chunk the body.
    const response = await rawRequest(balanced.front.port, 'GET /r HTTP/1.0\r\nHost: front');

    expect(response.status).toBe(200);
    expect(valuesOf(response.headers, 'transfer-encoding')).toEqual([]);
    expect(response.body).toBe('hello');
  });

  it('does not pass back the headers the upstream Connection header names', async () => {
    const headers = await fetchThrough();

    expect(valuesOf(headers, 'x-up')).toEqual([]);
    expect(valuesOf(headers, 'x-kept')).toEqual(['yes']);
  });

  it.each([
    ['alone', ['Connection: close']],
    ['in a list', ['Connection: X-Up, close']],
    ['on a second Connection line', ['Connection: X-Up', 'Connection: close']],
  ])('does not pass back a Close header when the upstream Connection names close %s', async (_where, connection) => {
    upstream = await startRawUpstream(respond(['HTTP/1.1 200 OK', ...connection, 'Close: yes', 'X-Kept: yes', 'Content-Length: 2'], 'ok'));
    balanced = await startBalancer({ targets: [upstream.url] });

    const response = await request(balanced.url, { path: '/r' });

    const headers = pairs(response.rawHeaders);
    expect(valuesOf(headers, 'close')).toEqual([]);
    expect(valuesOf(headers, 'x-kept')).toEqual(['yes']);
  });

  it.each([
    ['set-cookie', ['a=1; Path=/; Expires=Wed, 21 Oct 2037 07:28:00 GMT', 'b=2; HttpOnly', 'c=3']],
    ['link', ['</a.css>; rel=preload', '</b.js>; rel=preload']],
    ['www-authenticate', ['Basic realm="a"', 'Bearer realm="b"']],
    ['x-multi', ['one', 'two']],
  ])('passes every repeated %s header back as a separate line', async (name, values) => {
    const headers = await fetchThrough();

    expect(valuesOf(headers, name)).toEqual(values);
  });
});
