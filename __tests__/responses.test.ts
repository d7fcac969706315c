import { gzipSync } from 'node:zlib';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

describe('upstream responses pass through as they are', () => {
  let upstream: Upstream;
  let balanced: Balanced;
  const zipped = gzipSync('compressed body');

  beforeAll(async () => {
    upstream = await startUpstream('1', (app) => {
      app.get('/missing', (_req, res) => void res.status(404).send('not here'));
      app.get('/broken', (_req, res) => void res.status(500).send('upstream bug'));
      app.get('/teapot', (_req, res) => {
        res.statusMessage = 'Short And Stout';
        res.status(418).end();
      });
      app.get('/moved', (_req, res) => void res.redirect(302, 'http://127.0.0.1:9/elsewhere'));
      app.get('/empty', (_req, res) => void res.status(204).end());
      app.get('/etag', (_req, res) => {
        res.setHeader('etag', '"v1"');
        if (_req.headers['if-none-match'] === '"v1"') res.status(304).end();
        else res.send('fresh');
      });
      app.get('/gzip', (_req, res) => {
        res.setHeader('content-encoding', 'gzip');
        res.setHeader('content-type', 'text/plain');
        res.end(zipped);
      });
      app.get('/cookies', (_req, res) => {
        res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly']);
        res.setHeader('x-many', ['one', 'two']);
        res.send('ok');
      });
      app.head('/sized', (_req, res) => {
        res.setHeader('content-length', '1234');
        res.end();
      });
      app.get('/zero', (_req, res) => void res.setHeader('content-length', '0').end());
    });
    balanced = await startBalancer({ targets: [upstream.url] });
  });
  afterAll(() => closeAll(balanced, upstream));

  it.each([
    ['/missing', 404, 'not here'],
    ['/broken', 500, 'upstream bug'],
  ])('passes %s with its status %i as a response, not an error', async (path, status, text) => {
    const res = await request(balanced.url, { path });
    expect([res.status, res.text]).toEqual([status, text]);
  });

  it('keeps the status text', async () => {
    const res = await request(balanced.url, { path: '/teapot' });
    expect([res.status, res.statusMessage]).toEqual([418, 'Short And Stout']);
  });

  it('passes a redirect back to the client instead of following it', async () => {
    const res = await request(balanced.url, { path: '/moved' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('http://127.0.0.1:9/elsewhere');
  });

  it('answers 204 and 304 without a body', async () => {
    expect((await request(balanced.url, { path: '/empty' })).status).toBe(204);
    const notModified = await request(balanced.url, { path: '/etag', headers: { 'if-none-match': '"v1"' } });
    expect([notModified.status, notModified.body.length, notModified.headers.etag]).toEqual([304, 0, '"v1"']);
  });

  it('answers HEAD with the upstream headers and no body', async () => {
    const res = await request(balanced.url, { method: 'HEAD', path: '/sized' });
    expect([res.status, res.headers['content-length'], res.body.length]).toEqual([200, '1234', 0]);
  });

  it('forwards an empty body with Content-Length 0', async () => {
    const res = await request(balanced.url, { path: '/zero' });
    expect([res.status, res.headers['content-length'], res.body.length]).toEqual([200, '0', 0]);
  });

  it('never decompresses: the gzip bytes arrive untouched', async () => {
    const res = await request(balanced.url, { path: '/gzip', headers: { 'accept-encoding': 'gzip' } });
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.body.equals(zipped)).toBe(true);
  });

  it('keeps repeated Set-Cookie and other repeated headers as separate values', async () => {
    const res = await request(balanced.url, { path: '/cookies' });
    const pairs: string[] = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) pairs.push(`${res.rawHeaders[i]!.toLowerCase()}: ${res.rawHeaders[i + 1]}`);
    expect(pairs).toEqual(expect.arrayContaining(['set-cookie: a=1; Path=/', 'set-cookie: b=2; HttpOnly', 'x-many: one', 'x-many: two']));
  });
});
