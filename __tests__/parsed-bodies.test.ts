import { gzipSync } from 'node:zlib';
import express, { type RequestHandler } from 'express';
import express4 from 'express4';
import { closeAll, deadUrl, first, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

type Parsers = {
  json: () => RequestHandler;
  urlencoded: (o: { extended: boolean }) => RequestHandler;
  text: () => RequestHandler;
  raw: () => RequestHandler;
};

describe.each([
  ['Express 5', express as unknown as Parsers],
  ['Express 4', express4 as unknown as Parsers],
])('a body already parsed by %s', (_name, parsers) => {
  let upstream: Upstream;
  let balanced: Balanced | undefined;
  beforeEach(async () => {
    upstream = await startUpstream('1');
  });
  afterEach(() => closeAll(balanced, upstream));

  async function post(parser: RequestHandler, contentType: string, body: string | Buffer, headers: Record<string, string> = {}) {
    balanced = await startBalancer({ targets: [upstream.url] }, { mount: '/api', before: [parser] });
    const res = await request(balanced.url, {
      method: 'POST',
      path: '/api/things',
      headers: { 'content-type': contentType, ...headers },
      body,
    });
    expect(res.status).toBe(200);
    const seen = upstream.seen[0]!;
    expect(seen.headers['content-length']).toBe(String(seen.body.length));
    return seen;
  }

  /** POSTs `form` through express.urlencoded() and then `edit`, as an app that changes the parsed form; returns what the upstream got. */
  async function postEditedForm(edit: RequestHandler, form: string): Promise<string> {
    balanced = await startBalancer({ targets: [upstream.url] }, { before: [parsers.urlencoded({ extended: false }), edit] });
    const res = await request(balanced.url, {
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form,
    });
    expect(res.status).toBe(200);
    return upstream.seen[0]!.body.toString();
  }

  it('forwards express.json() bodies as JSON with a correct Content-Length', async () => {
    const seen = await post(parsers.json(), 'application/json', JSON.stringify({ name: 'zoë', n: [1, 2] }));
    expect(JSON.parse(seen.body.toString('utf8'))).toEqual({ name: 'zoë', n: [1, 2] });
    expect(seen.headers['content-type']).toBe('application/json');
  });

  it('forwards express.urlencoded() bodies, simple and extended', async () => {
    const simple = await post(parsers.urlencoded({ extended: false }), 'application/x-www-form-urlencoded', 'a=1&b=x%20y&b=z');
    expect(new URLSearchParams(simple.body.toString()).getAll('b')).toEqual(['x y', 'z']);
    expect(new URLSearchParams(simple.body.toString()).get('a')).toBe('1');
    await closeAll(balanced);
    upstream.seen.length = 0;
    const extended = await post(
      parsers.urlencoded({ extended: true }),
      'application/x-www-form-urlencoded',
      'user[name]=ann&user[tags][0]=x&user[tags][1]=y',
    );
    const params = new URLSearchParams(extended.body.toString());
    expect(params.get('user[name]')).toBe('ann');
    expect([params.get('user[tags][0]'), params.get('user[tags][1]')]).toEqual(['x', 'y']);
  });

  it('forwards express.text() bodies', async () => {
    const seen = await post(parsers.text(), 'text/plain; charset=utf-8', 'hello, wörld');
    expect(seen.body.toString('utf8')).toBe('hello, wörld');
  });

  // [Content-Type, the bytes the client sends]: iconv-lite, body-parser's decoder, knows these charsets.
  it.each([
    ['text/plain; charset=iso-8859-1', Buffer.from('café, naïve, 10 £', 'latin1')],
    ['text/plain;charset=LATIN1', Buffer.from('crème brûlée', 'latin1')],
    ['text/plain; charset="utf-16le"', Buffer.from('zoë ✓', 'utf16le')],
    ['text/plain', Buffer.from('zoë ✓', 'utf8')],
  ])('forwards an express.text() body sent as %s in that same charset, byte for byte', async (contentType, bytes) => {
    const seen = await post(parsers.text(), contentType, bytes);
    expect(seen.body.equals(bytes)).toBe(true);
  });

  it('forwards a parsed form as a middleware left it: a field set to undefined is left out, a null one sent empty', async () => {
    const edit: RequestHandler = (req, _res, next) => {
      const form = req.body as Record<string, unknown>;
      form.password = undefined;
      form.note = null;
      form.tags = ['x', null];
      next();
    };
    expect(await postEditedForm(edit, 'user=ann&password=secret&note=hi&tags=x&tags=y')).toBe('user=ann&note=&tags=x&tags=');
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'null'],
    ['a number', 5, '5'],
  ])('sends a form body a middleware replaced with %s as JSON, not as an empty or broken form', async (_what, value, sent) => {
    const replace: RequestHandler = (req, _res, next) => {
      req.body = value;
      next();
    };
    expect(await postEditedForm(replace, 'user=ann')).toBe(sent);
  });

  it('forwards an extended form with arrays of objects, of arrays and of both in the bracket form it came in', async () => {
    const form = 'items[0][name]=a&items[1][name]=b&grid[0][0]=1&grid[0][1]=2&mixed[0]=x&mixed[1][k]=v&tags=x&tags=y';
    const seen = await post(parsers.urlencoded({ extended: true }), 'application/x-www-form-urlencoded', form);
    expect([...new URLSearchParams(seen.body.toString())]).toEqual([...new URLSearchParams(form)]);
  });

  it('forwards no body for a bodyless request an earlier middleware read to its end, whatever req.body holds', async () => {
    const drain: RequestHandler = (req, _res, next) => {
      req.body = { set: 'by the app' };
      req.once('end', () => next()).resume();
    };
    balanced = await startBalancer({ targets: [upstream.url] }, { before: [drain] });
    expect((await request(balanced.url, { path: '/things' })).status).toBe(200);
    const seen = upstream.seen[0]!;
    expect([seen.body.length, seen.headers['content-length'], seen.headers['transfer-encoding']]).toEqual([0, undefined, undefined]);
  });

  it('forwards an empty JSON request (Content-Length: 0) as empty, not as the {} express.json() made of it', async () => {
    const seen = await post(parsers.json(), 'application/json', '');
    expect(seen.body.length).toBe(0);
  });

  it('forwards an empty body when an earlier middleware read the stream but left req.body unset', async () => {
    const consume: RequestHandler = (req, _res, next) => void req.once('end', () => next()).resume();
    const seen = await post(consume, 'application/octet-stream', Buffer.from('already read'));
    expect(seen.body.length).toBe(0);
  });

  it('sends a parsed body again to the next target when the first refuses the connection', async () => {
    balanced = await startBalancer({ targets: [await deadUrl(), upstream.url], strategy: first }, { before: [parsers.json()] });
    const res = await request(balanced.url, {
      method: 'POST',
      path: '/things',
      headers: { 'content-type': 'application/json' },
      body: '{"n":1}',
    });
    expect(res.status).toBe(200);
    expect(upstream.seen.map((seen) => seen.body.toString())).toEqual(['{"n":1}']);
  });

  it('forwards express.raw() bodies byte for byte', async () => {
    const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    const seen = await post(parsers.raw(), 'application/octet-stream', bytes);
    expect(seen.body.equals(bytes)).toBe(true);
  });

  it('drops a Content-Encoding the parser already undid', async () => {
    const seen = await post(parsers.json(), 'application/json', gzipSync(JSON.stringify({ zipped: true })), { 'content-encoding': 'gzip' });
    expect(seen.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(seen.body.toString())).toEqual({ zipped: true });
  });

  it('streams bodies the parsers did not read (another content type)', async () => {
    const seen = await post(parsers.json(), 'text/csv', 'a,b\n1,2\n');
    expect(seen.body.toString()).toBe('a,b\n1,2\n');
  });
});
