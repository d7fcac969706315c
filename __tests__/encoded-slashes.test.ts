import fc from 'fast-check';
import { loadBalance, type LoadBalanceOptions } from 'express-load-balance';
import { joinBasePath, relativePath } from '../src/forwarding/upstream-path';
import type { EncodedSlashesMode } from '../src/options/config';
import { rawGet } from './helpers/raw-client';
import { closeAll, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';
import { rawUpgrade, startWsUpstream } from './helpers/websocket';

const REFUSED = 400;

/**
 * Path-confusion forms, in the default mode ('keep'): [client path below the mount,
 * what follows the base path upstream, or 400]. Clients normalise paths, so these go
 * over a raw socket.
 */
const KEEP: Array<[string, string | typeof REFUSED]> = [
  ['/..%2fadmin', REFUSED],
  ['/..%2Fadmin', REFUSED],
  ['/%2e%2e%2fadmin', REFUSED],
  ['/%2E%2E%2Fadmin', REFUSED],
  ['/.%2e%2fadmin', REFUSED],
  ['/%2E.%2Fadmin', REFUSED],
  ['/..%5cadmin', REFUSED],
  ['/..%5Cadmin', REFUSED],
  ['/%2e%2e%5Cadmin', REFUSED],
  ['/..\\admin', REFUSED],
  ['/..%2F', REFUSED],
  ['/a/..%2f..%2fadmin', REFUSED],
  ['/a/b/..%2F..%2F..%2Fadmin', REFUSED],
  ['/a%2f..%2f..%2fadmin', REFUSED],
  ['/a%5c..%5C..%5cadmin', REFUSED],
  ['/a\\..\\..\\admin', REFUSED],
  // Our own resolution would leave "/..%2fx": it climbs for the upstream.
  ['/a%2fb/../..%2fx', REFUSED],
  // Resolved here to "/x", but the request itself climbs once decoded.
  ['/..%2f/../x', REFUSED],
  // An empty segment is no level (nginx's merge_slashes).
  ['/a//..%2f..%2fx', REFUSED],
  ['/a/%2E%2e/%2e./..%2fx', REFUSED],
  ['/a/..%2fb', '/a/..%2fb'],
  ['/a/b/%2e%2e%2f%2e%2e%2fc', '/a/b/%2e%2e%2f%2e%2e%2fc'],
  ['/%2fa%2f..%2fb', '/%2fa%2f..%2fb'],
  ['/a/.%2E%5Cb', '/a/.%2E%5Cb'],
  ['/a/b%2f%2e%2e', '/a/b%2f%2e%2e'],
  ['/a/%2e%2e%2F', '/a/%2e%2e%2F'],
  ['/a/..\\b', '/a/..%5Cb'],
  ['/a/%2e%2e/b', '/b'],
  ['/a?x=..%2f..%2f..%5c', '/a?x=..%2f..%2f..%5c'],
  // One round of decoding: "%252e" is "%2e" upstream, not a dot.
  ['/%252e%252e%252fadmin', '/%252e%252e%252fadmin'],
];

const DECODE: Array<[string, string | typeof REFUSED]> = [
  ['/a%2Fb', '/a/b'],
  ['/a%2fb%5Cc', '/a/b%5Cc'],
  ['/a%5cb', '/a%5Cb'],
  ['/a/..%2Fb', '/b'],
  ['/%2F%2Fevil/x', '/evil/x'],
  ['/x?q=%2F', '/x?q=%2F'],
  ['/..%2fadmin', REFUSED],
  ['/a%2f..%2f..%2fadmin', REFUSED],
  ['/..%5Cadmin', REFUSED],
];

const REJECT: Array<[string, string | typeof REFUSED]> = [
  ['/a%2Fb', REFUSED],
  ['/a%2fb', REFUSED],
  ['/a%5Cb', REFUSED],
  ['/a%5cb', REFUSED],
  ['/a\\b', REFUSED],
  ['/a/b?q=%2F%5C', '/a/b?q=%2F%5C'],
  ['/a/%2e%2e/b', '/b'],
  ['/a%20b', '/a%20b'],
];

const MODES: Array<[EncodedSlashesMode, Array<[string, string | typeof REFUSED]>]> = [
  ['keep', KEEP],
  ['decode', DECODE],
  ['reject', REJECT],
];

describe.each(MODES)('relativePath with encodedSlashes %j', (mode, table) => {
  it.each(table)('turns %s into %s', (path, expected) => {
    expect(relativePath(path, mode)).toBe(expected === REFUSED ? undefined : expected);
  });
});

describe('encoded slashes through real HTTP', () => {
  let open: Array<Balanced | Upstream | { close(): Promise<void> }> = [];
  afterEach(async () => {
    await closeAll(...open);
    open = [];
  });

  async function setUp(mount: string, options: Partial<LoadBalanceOptions> = {}): Promise<{ upstream: Upstream; balanced: Balanced }> {
    const upstream = await startUpstream('real');
    const balanced = await startBalancer({ targets: [upstream.url + '/v1'], ...options }, { mount });
    open.push(balanced, upstream);
    return { upstream, balanced };
  }

  describe.each([['/'], ['/api']])('mounted at %s, target base path /v1', (mount) => {
    const prefix = mount === '/' ? '' : mount;

    describe.each(MODES)('with encodedSlashes %j', (mode, table) => {
      it.each(table)('answers %s with %s', async (path, expected) => {
        const { upstream, balanced } = await setUp(mount, { encodedSlashes: mode });

        const response = await rawGet(balanced.front.port, prefix + path);

        if (expected === REFUSED) {
          expect(response.status).toBe(400);
          expect(balanced.errors).toEqual([expect.objectContaining({ code: 'ELB_BAD_REQUEST' })]);
          expect(upstream.seen).toEqual([]);
        } else {
          expect(response.status).toBe(200);
          expect(upstream.seen.map((r) => r.url)).toEqual(['/v1' + expected]);
        }
      });
    });
  });

  // lb.upgrade sees the whole request-target: no mount path is taken off.
  it.each([
    ['keep', '/..%2fadmin', REFUSED],
    ['keep', '/a%2Fb', '/v1/a%2Fb'],
    ['decode', '/a%2Fb', '/v1/a/b'],
    ['reject', '/a%2Fb', REFUSED],
  ] as const)('sanitises what pathRewrite returns with encodedSlashes %j: %s', async (mode, rewritten, expected) => {
    const { upstream, balanced } = await setUp('/', { encodedSlashes: mode, pathRewrite: () => rewritten });

    const response = await rawGet(balanced.front.port, '/anything');

    expect(response.status).toBe(expected === REFUSED ? 400 : 200);
    expect(upstream.seen.map((r) => r.url)).toEqual(expected === REFUSED ? [] : [expected]);
  });

  // lb.upgrade sees the whole request-target: no mount path is taken off.
  it.each([
    ['keep', '/..%2fadmin', REFUSED],
    ['keep', '/a%2Fb', '/v1/a%2Fb'],
    ['decode', '/a%2Fb', '/v1/a/b'],
    ['decode', '/a%2f..%2f..%2fadmin', REFUSED],
    ['reject', '/a%5Cb', REFUSED],
  ] as const)('applies encodedSlashes %j to a WebSocket upgrade of %s', async (mode, path, expected) => {
    const upstream = await startWsUpstream('ws');
    open.push(upstream);
    const balanced = await startBalancer({ targets: [upstream.url + '/v1'], encodedSlashes: mode }, { mount: '/api' });
    open.push(balanced);
    balanced.front.server.on('upgrade', balanced.lb.upgrade);

    const status = await rawUpgrade(balanced.front.port, path);

    expect(status).toBe(expected === REFUSED ? 400 : 101);
    expect(upstream.seen.map((s) => s.url)).toEqual(expected === REFUSED ? [] : [expected]);
  });

  it.each([['strip'], [''], [null], [true]])('refuses encodedSlashes %j with a TypeError naming it', (value) => {
    const build = (): unknown => loadBalance({ targets: ['http://127.0.0.1:3000'], encodedSlashes: value as never });
    expect(build).toThrow(TypeError);
    expect(build).toThrow(`option "encodedSlashes" must be 'keep', 'decode' or 'reject', got ${JSON.stringify(value)}`);
  });
});

/**
 * What an upstream that decodes the path once does with it: each %XX becomes its byte
 * (a malformed escape stays as it is), a backslash is a "/", then RFC 3986 §5.2.4
 * removes dot-segments. Empty segments are dropped first when `mergeSlashes` (nginx).
 * Returns undefined when that climbs above the root.
 */
function upstreamView(path: string, mergeSlashes: boolean): string[] | undefined {
  const decoded = path.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  const segments = decoded.replaceAll('\\', '/').split('/').slice(1);
  const out: string[] = [];
  for (const segment of mergeSlashes ? segments.filter((s) => s !== '') : segments) {
    if (segment === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else if (segment !== '.') {
      out.push(segment);
    }
  }
  return out;
}

describe('relativePath, for any path and any encodedSlashes mode', () => {
  const piece = fc.constantFrom(
    '/',
    '/',
    '\\',
    '.',
    '..',
    '%2e',
    '%2E',
    '%2f',
    '%2F',
    '%5c',
    '%5C',
    '%25',
    '%',
    'a',
    'b',
    '?',
    '#',
    '//',
    'http://h',
  );
  const path = fc.oneof(
    fc.array(piece, { maxLength: 20 }).map((parts) => '/' + parts.join('')),
    fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
  );
  const BASE_PATHS = ['/v1', '/a/b'];

  it('never lets what the upstream gets climb above the base path, decoded once', () => {
    const seen = { forwarded: 0, refused: 0 };
    fc.assert(
      fc.property(
        path,
        fc.constantFrom<EncodedSlashesMode>('keep', 'decode', 'reject'),
        fc.constantFrom(...BASE_PATHS),
        (url, mode, basePath) => {
          const rel = relativePath(url, mode);
          if (rel === undefined) {
            seen.refused++;
            return;
          }
          seen.forwarded++;
          const sent = joinBasePath(basePath, rel).split('?')[0]!;
          const base = basePath.split('/').slice(1);
          for (const mergeSlashes of [false, true]) {
            const view = upstreamView(sent, mergeSlashes);
            expect(view).toBeDefined();
            expect(view!.slice(0, base.length)).toEqual(base);
          }
          if (mode !== 'keep') expect(rel.split('?')[0]).not.toMatch(mode === 'decode' ? /%2f/i : /%2f|%5c/i);
        },
      ),
      { numRuns: 6_000 },
    );
    // Both outcomes were really exercised, not skipped.
    expect(seen.forwarded).toBeGreaterThan(3_000);
    expect(seen.refused).toBeGreaterThan(400);
  });
});
