import http from 'node:http';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import express from 'express';
import express4 from 'express4';
import type { Express } from 'express';
import { loadBalance } from 'express-load-balance';
import { joinBasePath, relativePath } from '../src/forwarding/upstream-path';
import { rawGet, rawRequest } from './helpers/raw-client';
import { closeAll, listen, startBalancer, startUpstream, type Balanced, type RunningServer, type Upstream } from './helpers/servers';

/**
 * The host:port in every attack below is a second local server, the canary. Whatever
 * the request-target says, the balancer must only ever talk to its configured target:
 * the canary must not even see a connection.
 */
interface Canary extends RunningServer {
  seen: string[];
}

async function startCanary(): Promise<Canary> {
  const seen: string[] = [];
  const running = await listen((req: http.IncomingMessage, res: http.ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    res.end('canary');
  });
  return Object.assign(running, { seen });
}

function expectCanaryUntouched(canary: Canary): void {
  expect(canary.seen).toEqual([]);
  expect(canary.sockets).toHaveLength(0);
}

/** The path an upstream sees must start with exactly one "/" (no "//", no "/\"). */
function expectSingleSlash(path: string): void {
  expect(path).toMatch(/^\/(?![/\\])/);
}

// [name, request-target built from (mount prefix, evil host:port), path the upstream must see]
const ATTACKS: Array<[string, (prefix: string, evil: string) => string, (evil: string) => string]> = [
  ['a protocol-relative path //evil/x', (p, e) => `${p}//${e}/x`, (e) => `/${e}/x`],
  ['many leading slashes ////evil/x', (p, e) => `${p}////${e}/x`, (e) => `/${e}/x`],
  ['userinfo /@evil/', (p, e) => `${p}/@${e}/`, (e) => `/@${e}/`],
  ['a slash and backslash /\\evil', (p, e) => `${p}/\\${e}`, (e) => `/${e}`],
  ['mixed slashes /\\/\\evil/x', (p, e) => `${p}/\\/\\${e}/x`, (e) => `/${e}/x`],
  ['absolute-form http://evil/', (p, e) => `http://${e}${p}/`, () => '/'],
  ['absolute-form with a path http://evil/x?y=1', (p, e) => `http://${e}${p}/x?y=1`, () => '/x?y=1'],
  ['absolute-form https://evil/x', (p, e) => `https://${e}${p}/x`, () => '/x'],
  ['absolute-form in capitals HTTP://evil/x', (p, e) => `HTTP://${e}${p}/x`, () => '/x'],
  ['absolute-form with userinfo http://u@evil/x', (p, e) => `http://u@${e}${p}/x`, () => '/x'],
  ['a protocol-relative path with userinfo //evil@h/x', (p, e) => `${p}//${e}@h/x`, (e) => `/${e}@h/x`],
  ['encoded slashes /%2F%2Fevil/', (p, e) => `${p}/%2F%2F${e}/`, (e) => `/%2F%2F${e}/`],
  ['encoded backslashes /%5C%5Cevil', (p, e) => `${p}/%5C%5C${e}`, (e) => `/%5C%5C${e}`],
  ['a dot-segment hiding a double slash /.//evil/x', (p, e) => `${p}/.//${e}/x`, (e) => `/${e}/x`],
  ['a dot-dot hiding a double slash /a/..//evil/x', (p, e) => `${p}/a/..//${e}/x`, (e) => `/${e}/x`],
  ['an encoded dot hiding a double slash /%2e//evil', (p, e) => `${p}/%2e//${e}`, (e) => `/${e}`],
];

describe.each([
  ['Express 5', () => express()],
  ['Express 4', () => express4() as unknown as Express],
])('request-targets that name another host, on %s', (_express, createApp) => {
  describe.each(['/', '/api'])('with the balancer mounted at %s', (mount) => {
    const prefix = mount === '/' ? '' : mount;
    let canary: Canary | undefined;
    let upstream: Upstream | undefined;
    let balanced: Balanced | undefined;

    beforeEach(async () => {
      canary = await startCanary();
      upstream = await startUpstream('real');
      balanced = await startBalancer({ targets: [upstream.url] }, { mount, app: createApp() });
    });
    afterEach(() => closeAll(balanced, upstream, canary));

    it.each(ATTACKS)('sends %s to the target, never to the host it names', async (_name, target, expected) => {
      const evil = `127.0.0.1:${canary!.port}`;
      const response = await rawGet(balanced!.front.port, target(prefix, evil));

      expectCanaryUntouched(canary!);
      expect(response.status).toBe(200);
      expect(response.body).toContain('Response from server Test: real');
      expect(upstream!.seen.map((r) => r.url)).toEqual([expected(evil)]);
      expectSingleSlash(upstream!.seen[0]!.url);
    });

    it('keeps the Host header of an absolute-form request away from the upstream', async () => {
      const evil = `127.0.0.1:${canary!.port}`;
      const response = await rawGet(balanced!.front.port, `http://${evil}${prefix}/x`, evil);

      expect(response.status).toBe(200);
      expect(upstream!.seen[0]!.headers.host).toBe(new URL(upstream!.url).host);
      expectCanaryUntouched(canary!);
    });
  });
});

describe('request-targets Node itself refuses', () => {
  let open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await closeAll(...open);
    open = [];
  });

  it.each([
    ['a leading backslash \\\\evil', (e: string) => `\\\\${e}`],
    ['a bare authority evil/x', (e: string) => `${e}/x`],
  ])('answers %s with 400 without forwarding it', async (_name, target) => {
    const canary = await startCanary();
    const upstream = await startUpstream('real');
    const balanced = await startBalancer({ targets: [upstream.url] });
    open = [balanced, upstream, canary];

    const response = await rawGet(balanced.front.port, target(`127.0.0.1:${canary.port}`));

    expect(response.status).toBe(400);
    expect(upstream.seen).toEqual([]);
    expectCanaryUntouched(canary);
  });
});

describe('CONNECT', () => {
  let open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await closeAll(...open);
    open = [];
  });

  /**
   * Node closes a CONNECT connection unless the server has a 'connect' listener; an app
   * that wants CONNECT in Express wires one up like this, so the balancer does see it.
   */
  async function startConnectAwareBalancer(targets: string[]): Promise<RunningServer> {
    const lb = loadBalance(targets);
    const app = express();
    app.use(lb);
    const front = await listen(app);
    front.server.on('connect', (req: http.IncomingMessage, socket: Socket) => {
      const res = new http.ServerResponse(req);
      res.assignSocket(socket);
      res.on('finish', () => socket.end());
      app(req as express.Request, res as express.Response);
    });
    open.push(lb, front);
    return front;
  }

  // Express's router finds no path in an authority-form target, so that one is a 404
  // before the balancer is reached; the others reach it and it answers 400.
  it.each([
    ['an authority-form target (evil:port)', (e: string) => e, 404],
    ['an absolute-form target (http://evil/)', (e: string) => `http://${e}/`, 400],
    ['an origin-form target (/x)', () => '/x', 400],
  ])('refuses CONNECT to %s', async (_name, target, status) => {
    const canary = await startCanary();
    const upstream = await startUpstream('real');
    open.push(upstream, canary);
    const front = await startConnectAwareBalancer([upstream.url]);
    const evil = `127.0.0.1:${canary.port}`;

    const response = await rawRequest(front.port, `CONNECT ${target(evil)} HTTP/1.1\r\nHost: ${evil}`);

    expect(response.status).toBe(status);
    expect(upstream.seen).toEqual([]);
    expectCanaryUntouched(canary);
  });

  it('never reaches the canary through a server without a connect listener', async () => {
    const canary = await startCanary();
    const upstream = await startUpstream('real');
    const balanced = await startBalancer({ targets: [upstream.url] });
    open.push(balanced, upstream, canary);
    const evil = `127.0.0.1:${canary.port}`;

    const response = await rawRequest(balanced.front.port, `CONNECT ${evil} HTTP/1.1\r\nHost: ${evil}`);

    // Node closes the connection without an answer.
    expect(response.status).toBe(0);
    expect(upstream.seen).toEqual([]);
    expectCanaryUntouched(canary);
  });
});

describe('relativePath, for any request-target', () => {
  // Characters that matter to URL parsers, with letters and digits to fill segments.
  const urlChar = fc.constantFrom(
    '/',
    '/',
    '/',
    '\\',
    '.',
    '.',
    '%',
    '2',
    'e',
    'E',
    'f',
    'F',
    '5',
    'c',
    'C',
    '?',
    '#',
    '@',
    ':',
    'h',
    't',
    'p',
    's',
    'x',
    '1',
    ';',
    '&',
    '=',
  );
  const fragment = fc.oneof(
    fc.constantFrom(
      '//',
      '/\\',
      '\\\\',
      '/..',
      '/.',
      '/./',
      '/../',
      '%2e',
      '%2E',
      '%2f',
      '%2F',
      '%5c',
      '%5C',
      'http://',
      'https://',
      '@',
      '?',
      '#',
      'evil:1',
    ),
    urlChar,
  );
  const requestTarget = fc.oneof(
    fc.array(fragment, { maxLength: 24 }).map((parts) => parts.join('')),
    fc.webUrl({ withQueryParameters: true, withFragments: true }),
    fc.string({ unit: 'grapheme-ascii', maxLength: 40 }),
  );
  const ORIGINS = ['http://127.0.0.1:3000', 'https://[::1]:8443', 'http://upstream.internal'];
  const BASE_PATHS = ['', '/v1', '/a/b'];

  /** How many of a property's 5,000 runs must yield a path, and so be checked (about 98 % do). */
  const MIN_CHECKED = 4_000;

  it('returns undefined or a path starting with exactly one "/"', () => {
    let checked = 0;
    fc.assert(
      fc.property(requestTarget, (url) => {
        const rel = relativePath(url, 'keep');
        if (rel === undefined) return;
        checked++;
        expect(rel[0]).toBe('/');
        expect(rel[1]).not.toBe('/');
        expect(rel[1]).not.toBe('\\');
      }),
      { numRuns: 5_000 },
    );
    expect(checked).toBeGreaterThanOrEqual(MIN_CHECKED);
  });

  it('keeps the resolved URL on the target origin and under its base path', () => {
    let checked = 0;
    fc.assert(
      fc.property(requestTarget, fc.constantFrom(...ORIGINS), fc.constantFrom(...BASE_PATHS), (url, origin, basePath) => {
        const rel = relativePath(url, 'keep');
        if (rel === undefined) return;
        checked++;
        // WHATWG parsing is what an upstream (or any URL-building code) does with the path.
        const resolved = new URL(joinBasePath(basePath, rel), origin);
        expect(resolved.origin).toBe(new URL(origin).origin);
        expect(`${resolved.pathname}/`.startsWith(`${basePath}/`)).toBe(true);
      }),
      { numRuns: 5_000 },
    );
    expect(checked).toBeGreaterThanOrEqual(MIN_CHECKED);
  });

  it.each([['//evil:1/x'], ['/.//evil:1/x'], ['/a/%2E%2e//evil'], ['http://evil:1//evil:2/x']])(
    'never yields a host-changing path for %s',
    (url) => {
      const rel = relativePath(url, 'keep')!;
      expect(new URL(joinBasePath('', rel), 'http://127.0.0.1:3000').origin).toBe('http://127.0.0.1:3000');
    },
  );
});
