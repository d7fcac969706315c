import express from 'express';
import express4 from 'express4';
import type { ErrorRequestHandler, Express } from 'express';
import { isLoadBalanceError } from 'express-load-balance';
import { relativePath } from '../src/forwarding/upstream-path';
import { rawGet } from './helpers/raw-client';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

/** Answers a balancer error with its status and code, so tests can tell whose 400 it is. */
const reportCode: ErrorRequestHandler = (err, _req, res, next) => {
  if (!isLoadBalanceError(err)) return next(err);
  res.status(err.status).type('text/plain').send(err.code);
};

describe.each([
  ['Express 5', () => express()],
  ['Express 4', () => express4() as unknown as Express],
])('the upstream path on %s', (_express, createApp) => {
  let open: Array<Balanced | Upstream> = [];
  afterEach(async () => {
    await closeAll(...open);
    open = [];
  });

  async function setUp(mount: string, basePath: string): Promise<{ upstream: Upstream; balanced: Balanced }> {
    const upstream = await startUpstream('real');
    const app = createApp();
    const balanced = await startBalancer({ targets: [upstream.url + basePath] }, { mount, app });
    app.use(reportCode);
    open.push(balanced, upstream);
    return { upstream, balanced };
  }

  // [mount, target base path, client path, path the upstream gets]
  it.each([
    ['/', '', '/users?x=1', '/users?x=1'],
    ['/', '/v1', '/users?x=1', '/v1/users?x=1'],
    ['/api', '', '/api/users?x=1', '/users?x=1'],
    ['/api', '/v1', '/api/users?x=1', '/v1/users?x=1'],
    ['/api', '/api', '/api/users', '/api/users'],
    ['/api', '/v1/', '/api/users?x=1', '/v1/users?x=1'],
    ['/api', '/a/b//', '/api/users', '/a/b/users'],
    ['/api', '', '/api', '/'],
    ['/api', '/v1', '/api', '/v1/'],
    ['/api', '/v1', '/api?x=1', '/v1/?x=1'],
    ['/api', '', '/api/', '/'],
    ['/', '', '/', '/'],
    ['/api', '/v1', '/api/users/', '/v1/users/'],
    ['/api', '', '/api/s?q=a%20b&q=c&r=/x/../y', '/s?q=a%20b&q=c&r=/x/../y'],
    ['/api', '', '/api/a%2Fb/%E2%82%AC', '/a%2Fb/%E2%82%AC'],
    ['/api', '/v1', '/api/@me', '/v1/@me'],
  ])('mounted at %s with base path %j, sends %s as %s', async (mount, basePath, path, expected) => {
    const { upstream, balanced } = await setUp(mount, basePath);

    const response = await request(balanced.url, { path });

    expect(response.status).toBe(200);
    expect(upstream.seen.map((r) => r.url)).toEqual([expected]);
  });

  // Clients normalise dot-segments, so these go over a raw socket.
  // [client path, path the upstream gets, or 400]
  describe.each([
    ['/api', '/v1'],
    ['/', '/v1'],
    ['/api', ''],
  ])('with dot-segments, mounted at %s with base path %j', (mount, basePath) => {
    const prefix = mount === '/' ? '' : mount;

    it.each([
      ['/x/../y', '/y'],
      ['/x/./y', '/x/y'],
      ['/./y', '/y'],
      ['/x/%2e%2e/y', '/y'],
      ['/x/%2E%2e/y', '/y'],
      ['/x/.%2E/y', '/y'],
      ['/x/%2e/y', '/x/y'],
      ['/x/..', '/'],
      ['/x/y/../..', '/'],
      ['/x/../y?q=/../..', '/y?q=/../..'],
      ['/x/..\\y', '/x/..%5Cy'],
      ['/x/..%2Fadmin', '/x/..%2Fadmin'],
      ['/..a/.b', '/..a/.b'],
    ])('sends %s as base path + %s', async (path, expected) => {
      const { upstream, balanced } = await setUp(mount, basePath);

      const response = await rawGet(balanced.front.port, prefix + path);

      expect(response.status).toBe(200);
      expect(upstream.seen.map((r) => r.url)).toEqual([basePath + expected]);
    });

    it.each([
      ['/../admin'],
      ['/..'],
      ['/%2e%2e/admin'],
      ['/%2E%2e/'],
      ['/.%2e'],
      ['/x/../../admin'],
      ['/x/%2e%2e/%2E%2E/admin'],
      ['/./../admin'],
      ['/\\..\\admin/../..'],
      ['/..%2Fadmin'],
    ])('refuses %s with 400, forwarding nothing', async (path) => {
      const { upstream, balanced } = await setUp(mount, basePath);

      const response = await rawGet(balanced.front.port, prefix + path);

      expect(response.status).toBe(400);
      expect(response.body).toContain('ELB_BAD_REQUEST');
      expect(upstream.seen).toEqual([]);
    });
  });
});

describe('relativePath', () => {
  // [request-target, what follows the base path upstream]
  it.each([
    ['/a#top', '/a'],
    ['/a?x=1#top', '/a?x=1'],
    ['/a#top?x=1', '/a'],
    ['/a/..#/../..', '/'],
  ])('never sends the fragment of %s upstream: %s', (url, expected) => {
    expect(relativePath(url, 'keep')).toBe(expected);
  });

  it.each([
    ['/go?to=http://h/x#top', '/go?to=http://h/x'],
    ['/http://h/x#top', '/http://h/x'],
    ['http://evil/go?to=http://h/x', '/go?to=http://h/x'],
  ])('takes off only a leading scheme://authority, not a URL further on: %s gives %s', (url, expected) => {
    expect(relativePath(url, 'keep')).toBe(expected);
  });

  // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
  it.each([['h2c://evil/x'], ['svn+ssh://evil/x'], ['a.b-c://evil/x'], ['HTTPS://evil/x']])(
    'takes the authority off an absolute-form target with any RFC 3986 scheme: %s',
    (url) => {
      expect(relativePath(url, 'keep')).toBe('/x');
    },
  );

  it.each([
    ['http://evil?x=1', '/?x=1'],
    ['http://evil#f/x', '/'],
    ['http://evil', '/'],
  ])('ends the authority of an absolute-form target at "?", "#" or the end: %s gives %s', (url, expected) => {
    expect(relativePath(url, 'keep')).toBe(expected);
  });

  // RFC 3986 §5.2.4: a dot-segment at the end leaves the path ending in "/".
  it.each([
    ['/a/b/..', '/a/'],
    ['/a/.', '/a/'],
    ['/a/%2e', '/a/'],
    ['/a/b/%2E%2e?q', '/a/?q'],
  ])('keeps the trailing slash a final dot-segment leaves: %s gives %s', (url, expected) => {
    expect(relativePath(url, 'keep')).toBe(expected);
  });

  it.each([
    // Plain slashes climb above the root, however deep the encoded slash makes it look once decoded.
    ['/a%2fb/../..'],
    // "%2e" is "." for a decoding upstream, no level: then "..%2f" climbs.
    ['/%2e%2f..%2fadmin'],
    ['/a/.%2f..%2f..%2fadmin'],
  ])('refuses %s, which climbs above the root', (url) => {
    expect(relativePath(url, 'keep')).toBeUndefined();
  });
});
