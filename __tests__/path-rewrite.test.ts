import type { Request } from 'express';
import { loadBalance, type PathRewrite } from 'express-load-balance';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

describe('pathRewrite', () => {
  let upstream: Upstream | undefined;
  let canary: Upstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, upstream, canary));

  // [what, rewrite, mount, target base path, client path, path the upstream sees]
  const REWRITES: Array<[string, PathRewrite, string, string, string, string]> = [
    ['renames a prefix, keeping the query', { '^/old': '/new' }, '/api', '', '/api/old/x?y=1', '/new/x?y=1'],
    ['drops a prefix', { '^/api': '' }, '/', '', '/api/users', '/users'],
    ['turns an emptied path into /', { '^/api': '' }, '/', '', '/api', '/'],
    ['sees the path relative to the mount', { '^/api': '/gone' }, '/api', '', '/api/x', '/x'],
    ['applies only the first matching rule', { '^/a': '/first', '^/a/b': '/second' }, '/', '', '/a/b', '/first/b'],
    ['does not chain rules', { '^/x': '/y', '^/y': '/z' }, '/', '', '/x/1', '/y/1'],
    ['substitutes capture groups', { '^/users/(\\d+)$': '/u?id=$1' }, '/', '', '/users/7', '/u?id=7'],
    ['rewrites the query too', { '[?&]debug=1$': '' }, '/', '', '/x?debug=1', '/x'],
    ['leaves a path no rule matches alone', { '^/old': '/new' }, '/', '', '/other?old=1', '/other?old=1'],
    ['runs before the base path is joined', { '^/old': '/new' }, '/', '/v1', '/old/x', '/v1/new/x'],
    ['adds a missing leading slash', { '^/a': 'b' }, '/', '', '/a/c', '/b/c'],
    [
      'takes a function of the path and request',
      (path: string, req: Request) => `/${req.method.toLowerCase()}${path}`,
      '/api',
      '',
      '/api/x?q',
      '/get/x?q',
    ],
  ];

  it.each(REWRITES)('%s', async (_what, pathRewrite, mount, basePath, path, expected) => {
    upstream = await startUpstream('a');
    balanced = await startBalancer({ targets: [upstream.url + basePath], pathRewrite }, { mount });
    const response = await request(balanced.url, { path });
    expect(response.text).toBe('Response from server Test: a');
    expect(upstream.seen.map((seen) => seen.url)).toEqual([expected]);
  });

  it('hands the rewrite the sanitised path, not the raw request-target', async () => {
    upstream = await startUpstream('a');
    const given: string[] = [];
    const pathRewrite = (path: string): string => {
      given.push(path);
      return path;
    };
    balanced = await startBalancer({ targets: [upstream.url], pathRewrite });
    await request(balanced.url, { path: '//x/./y' });
    expect(given).toEqual(['/x/y']);
  });

  // [what, rewrite result built from the canary's host:port, path the target sees]
  const HOSTILE: Array<[string, (evil: string) => string, (evil: string) => string]> = [
    ['a protocol-relative path', (evil) => `//${evil}/x`, (evil) => `/${evil}/x`],
    ['an absolute URL', (evil) => `http://${evil}/`, () => '/'],
    ['an absolute URL with a path', (evil) => `http://${evil}/steal?x=1`, () => '/steal?x=1'],
    ['a backslash path', (evil) => `/\\${evil}/x`, (evil) => `/${evil}/x`],
    ['a dot-segment hiding a double slash', (evil) => `/a/..//${evil}/x`, (evil) => `/${evil}/x`],
  ];

  it.each(HOSTILE)('sends a rewrite to %s to the chosen target, never to the host it names', async (_what, rewrite, expected) => {
    upstream = await startUpstream('a');
    canary = await startUpstream('canary');
    const evil = `127.0.0.1:${canary.port}`;
    balanced = await startBalancer({ targets: [upstream.url], pathRewrite: () => rewrite(evil) });
    const response = await request(balanced.url, { path: '/x' });
    expect(response.text).toBe('Response from server Test: a');
    expect(upstream.seen.map((seen) => seen.url)).toEqual([expected(evil)]);
    expect(canary.seen).toEqual([]);
    expect(canary.sockets).toHaveLength(0);
  });

  it('answers 400 when a rule rewrites the path above its root', async () => {
    upstream = await startUpstream('a');
    balanced = await startBalancer({ targets: [upstream.url], pathRewrite: { '^/x': '/../../etc' } });
    const response = await request(balanced.url, { path: '/x' });
    expect(response.status).toBe(400);
    expect(upstream.seen).toEqual([]);
  });

  it('passes the error a rewrite function throws to next(err)', async () => {
    upstream = await startUpstream('a');
    const thrown = new Error('no route for this path');
    balanced = await startBalancer({
      targets: [upstream.url],
      pathRewrite: () => {
        throw thrown;
      },
    });
    const response = await request(balanced.url, { path: '/x' });
    expect(response.status).toBe(500);
    expect(balanced.errors).toEqual([thrown]);
    expect(upstream.seen).toEqual([]);
  });

  it('passes a TypeError to next(err) when a rewrite function returns no string', async () => {
    upstream = await startUpstream('a');
    const pathRewrite = ((path: string) => Promise.resolve(path)) as unknown as (path: string) => string;
    balanced = await startBalancer({ targets: [upstream.url], pathRewrite });
    const response = await request(balanced.url, { path: '/x' });
    expect(response.status).toBe(500);
    expect(balanced.errors).toHaveLength(1);
    expect(balanced.errors[0]).toBeInstanceOf(TypeError);
    expect(String(balanced.errors[0])).toContain('pathRewrite must return a string');
    expect(upstream.seen).toEqual([]);
  });
});

describe('pathRewrite validation', () => {
  const targets = ['http://127.0.0.1:3000'];

  // [what, option value, option the TypeError names]
  const INVALID: Array<[string, unknown, string]> = [
    ['an invalid regular expression', { '(': '/x' }, 'pathRewrite["("]'],
    ['a number as replacement', { '^/a': 1 }, 'pathRewrite["^/a"]'],
    ['null as replacement', { '^/a': null }, 'pathRewrite["^/a"]'],
    ['a function as replacement', { '^/a': () => '/b' }, 'pathRewrite["^/a"]'],
    ['a string', '^/a', 'pathRewrite'],
    ['an array', [['^/a', '/b']], 'pathRewrite'],
    ['null', null, 'pathRewrite'],
    ['a regular expression', /^\/a/, 'pathRewrite'],
    ['a Map', new Map([['^/a', '/b']]), 'pathRewrite'],
  ];

  it.each(INVALID)('refuses %s', (_what, pathRewrite, option) => {
    expect(() => loadBalance({ targets, pathRewrite: pathRewrite as PathRewrite })).toThrow(TypeError);
    expect(() => loadBalance({ targets, pathRewrite: pathRewrite as PathRewrite })).toThrow(`option "${option}"`);
  });

  it('accepts an empty object as no rewriting', async () => {
    const lb = loadBalance({ targets, pathRewrite: {} });
    await lb.close();
  });
});
