import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import express4 from 'express4';
import express from 'express';
import type { Express, Request, RequestHandler } from 'express';
import { loadBalance, type LoadBalanceOptions } from 'express-load-balance';
import { trustedForwardedFor, type TrustProxy } from '../src/forwarding/headers';
import { rawRequest } from './helpers/raw-client';
import { OPENSSL, selfSignedCert } from './helpers/tls';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

const engines: Array<[string, () => Express]> = [
  ['Express 5', () => express()],
  ['Express 4', () => express4()],
];

/** Express's own compiled `trust proxy` function for a setting. */
function compiled(createApp: () => Express, setting: unknown): TrustProxy {
  const app = createApp();
  app.set('trust proxy', setting);
  return app.get('trust proxy fn') as TrustProxy;
}

/** What Express itself makes of a request from `peer` carrying `xff`: `req.ips`, client first. */
function expressIps(createApp: () => Express, setting: unknown, peer: string, xff: string | undefined): string[] {
  const app = createApp();
  app.set('trust proxy', setting);
  const socket = { remoteAddress: peer };
  const req = Object.create(app.request, {
    headers: { value: xff === undefined ? {} : { 'x-forwarded-for': xff } },
    socket: { value: socket },
    connection: { value: socket },
  }) as Request;
  return req.ips;
}

describe.each(engines)('the X-Forwarded-For list kept under trust proxy, on %s', (_name, createApp) => {
  // [trust proxy setting, socket peer, incoming X-Forwarded-For, what the upstream gets]
  it.each<[unknown, string, string | undefined, string]>([
    [false, '127.0.0.1', undefined, '127.0.0.1'],
    [false, '127.0.0.1', '6.6.6.6', '127.0.0.1'],
    [false, '10.0.0.1', '6.6.6.6, 10.0.0.2', '10.0.0.1'],
    ['loopback', '127.0.0.1', undefined, '127.0.0.1'],
    ['loopback', '127.0.0.1', '', '127.0.0.1'],
    ['loopback', '127.0.0.1', '6.6.6.6', '6.6.6.6, 127.0.0.1'],
    // The entry a trusted proxy reported is itself untrusted: what it claims is not kept.
    ['loopback', '127.0.0.1', '1.1.1.1, 6.6.6.6', '6.6.6.6, 127.0.0.1'],
    ['loopback', '127.0.0.1', '1.1.1.1, 127.0.0.1', '1.1.1.1, 127.0.0.1, 127.0.0.1'],
    // A client cannot make itself a trusted proxy by naming one.
    ['loopback', '203.0.113.7', '127.0.0.1', '203.0.113.7'],
    [1, '10.0.0.9', '1.1.1.1, 2.2.2.2', '2.2.2.2, 10.0.0.9'],
    [2, '10.0.0.9', '1.1.1.1, 2.2.2.2, 3.3.3.3', '2.2.2.2, 3.3.3.3, 10.0.0.9'],
    [3, '10.0.0.9', '1.1.1.1', '1.1.1.1, 10.0.0.9'],
    [true, '10.0.0.9', '1.1.1.1, 2.2.2.2', '1.1.1.1, 2.2.2.2, 10.0.0.9'],
    ['10.0.0.0/8', '10.0.0.1', '1.1.1.1, 6.6.6.6, 10.0.0.2', '6.6.6.6, 10.0.0.2, 10.0.0.1'],
    ['10.0.0.0/8', '192.168.0.1', '1.1.1.1, 10.0.0.2', '192.168.0.1'],
    ['10.0.0.1, 10.0.0.2', '10.0.0.1', '1.1.1.1, 10.0.0.3, 10.0.0.2', '10.0.0.3, 10.0.0.2, 10.0.0.1'],
    // Not an address: an untrusted entry like any other, and it ends the walk.
    ['loopback', '127.0.0.1', '1.1.1.1, junk, 127.0.0.1', 'junk, 127.0.0.1, 127.0.0.1'],
    // Empty entries and stray spaces are not hops.
    [true, '10.0.0.9', ' 1.1.1.1 ,, 2.2.2.2 ,', '1.1.1.1, 2.2.2.2, 10.0.0.9'],
    ['uniquelocal', 'fd00::1', '2001:db8::1, fd00::2', '2001:db8::1, fd00::2, fd00::1'],
  ])('trust proxy %j, peer %s, X-Forwarded-For %j -> %j', (setting, peer, incoming, expected) => {
    expect(trustedForwardedFor(peer, incoming, compiled(createApp, setting))).toBe(expected);
    // The same list Express's req.ips gives the app, with the peer appended.
    expect(expected).toBe([...expressIps(createApp, setting, peer, incoming), peer].join(', '));
  });

  it('asks a custom trust function about each hop, closest first, and stops at the first untrusted one', () => {
    const asked: Array<[string, number]> = [];
    const trust: TrustProxy = (addr, hop) => {
      asked.push([addr, hop]);
      return addr !== '3.3.3.3';
    };

    expect(trustedForwardedFor('9.9.9.9', '1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4', trust)).toBe('3.3.3.3, 4.4.4.4, 9.9.9.9');
    expect(asked).toEqual([
      ['9.9.9.9', 0],
      ['4.4.4.4', 1],
      ['3.3.3.3', 2],
    ]);
  });
});

/** Forwarding headers a client might send to pass for someone else. */
const SPOOFED = {
  host: 'shop.example:8080',
  'x-forwarded-for': '6.6.6.6',
  'x-forwarded-proto': 'https',
  'x-forwarded-host': 'spoofed.example',
  'x-forwarded-port': '443',
  'x-forwarded-prefix': '/admin',
  forwarded: 'for=6.6.6.6;proto=https',
  'x-real-ip': '6.6.6.6',
};

/** What the upstream gets of SPOOFED when nothing the client claimed is believed: the real peer and this hop. */
const THIS_HOP_ONLY = { 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': 'shop.example:8080', 'x-forwarded-proto': 'http' };

function forwardingHeaders(seen: IncomingHttpHeaders): Record<string, string | string[] | undefined> {
  const out: Record<string, string | string[] | undefined> = {};
  for (const name of Object.keys(seen).sort()) {
    if (name.startsWith('x-forwarded-') || name === 'forwarded' || name === 'x-real-ip') out[name] = seen[name];
  }
  return out;
}

describe.each(engines)('X-Forwarded-* through the balancer on %s', (_name, createApp) => {
  let upstream: Upstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, upstream);
    balanced = upstream = undefined;
  });

  /** Balancer on an app with `trust proxy` = `setting` (unset: Express's default, off); returns what the upstream saw and the app's req.ips. */
  async function send(
    setting: unknown,
    headers: Record<string, string>,
    options: Partial<LoadBalanceOptions> = {},
  ): Promise<{ seen: IncomingHttpHeaders; ips: string[] }> {
    upstream = await startUpstream('real');
    const app = createApp();
    if (setting !== undefined) app.set('trust proxy', setting);
    let ips: string[] = [];
    const recordIps: RequestHandler = (req, _res, next) => {
      ips = req.ips;
      next();
    };
    balanced = await startBalancer({ targets: [upstream.url], ...options }, { app, before: [recordIps] });
    const res = await request(balanced.url, { path: '/h', headers });
    expect(res.status).toBe(200);
    return { seen: upstream.seen[0]!.headers, ips };
  }

  describe('by default, following the app trust proxy setting', () => {
    it('gives the upstream only the real peer and this hop when trust proxy is off, whatever the client claims', async () => {
      const { seen, ips } = await send(undefined, SPOOFED);

      expect(ips).toEqual([]);
      expect(forwardingHeaders(seen)).toEqual(THIS_HOP_ONLY);
    });

    it('keeps what a trusted proxy reported and appends the peer, as req.ips reads it', async () => {
      const { seen, ips } = await send('loopback', SPOOFED);

      expect(ips).toEqual(['6.6.6.6']);
      expect(forwardingHeaders(seen)).toEqual({ ...omit(SPOOFED, 'host'), 'x-forwarded-for': '6.6.6.6, 127.0.0.1' });
    });

    it('keeps the whole chain of trusted proxies and cuts it at the first untrusted one', async () => {
      const { seen, ips } = await send('loopback', { 'x-forwarded-for': '1.1.1.1, 6.6.6.6, 127.0.0.2' });

      expect(ips).toEqual(['6.6.6.6', '127.0.0.2']);
      expect(seen['x-forwarded-for']).toBe('6.6.6.6, 127.0.0.2, 127.0.0.1');
    });

    it('keeps as many entries as trust proxy trusts hops', async () => {
      const { seen } = await send(1, { 'x-forwarded-for': '1.1.1.1, 2.2.2.2' });

      expect(seen['x-forwarded-for']).toBe('2.2.2.2, 127.0.0.1');
    });

    it('takes the first proto and host the trusted proxy reported, as req.protocol and req.hostname do', async () => {
      const { seen } = await send('loopback', {
        host: 'inner:3000',
        'x-forwarded-proto': 'https, http',
        'x-forwarded-host': 'shop.example, inner',
      });

      expect([seen['x-forwarded-proto'], seen['x-forwarded-host']]).toEqual(['https', 'shop.example']);
    });

    it('describes this hop when a trusted proxy sent no X-Forwarded-Proto or -Host', async () => {
      const { seen } = await send('loopback', { host: 'inner:3000', 'x-forwarded-for': '1.1.1.1' });

      expect(forwardingHeaders(seen)).toEqual({
        'x-forwarded-for': '1.1.1.1, 127.0.0.1',
        'x-forwarded-host': 'inner:3000',
        'x-forwarded-proto': 'http',
      });
    });

    it('describes this hop when a trusted proxy sent empty X-Forwarded-Proto and -Host, as req.protocol and req.host do', async () => {
      const { seen } = await send('loopback', { host: 'inner:3000', 'x-forwarded-proto': '', 'x-forwarded-host': '' });

      expect([seen['x-forwarded-proto'], seen['x-forwarded-host']]).toEqual(['http', 'inner:3000']);
    });

    it('does not keep an X-Forwarded-For the client named in Connection, even from a trusted proxy', async () => {
      upstream = await startUpstream('real');
      const app = createApp();
      app.set('trust proxy', 'loopback');
      balanced = await startBalancer({ targets: [upstream.url] }, { app });

      await rawRequest(balanced.front.port, 'GET /h HTTP/1.1\r\nHost: front\r\nConnection: x-forwarded-for\r\nX-Forwarded-For: 6.6.6.6');

      expect(upstream.seen[0]!.headers['x-forwarded-for']).toBe('127.0.0.1');
    });

    it('believes nothing from a peer outside the trusted range', async () => {
      const { seen, ips } = await send('10.0.0.0/8', SPOOFED);

      expect(ips).toEqual([]);
      expect(forwardingHeaders(seen)).toEqual(THIS_HOP_ONLY);
    });
  });

  // trust proxy is on in these, to show the option overrides it.
  describe('with the xForwarded option', () => {
    it("'append' keeps the whole incoming list, appends the peer, and describes this hop in -Proto and -Host", async () => {
      const { seen } = await send('loopback', { ...SPOOFED, 'x-forwarded-for': '1.1.1.1, 6.6.6.6' }, { xForwarded: 'append' });

      expect(forwardingHeaders(seen)).toEqual({
        ...omit(SPOOFED, 'host'),
        'x-forwarded-for': '1.1.1.1, 6.6.6.6, 127.0.0.1',
        'x-forwarded-host': 'shop.example:8080',
        'x-forwarded-proto': 'http',
      });
    });

    it("'append' keeps the incoming list even with trust proxy off", async () => {
      const { seen } = await send(undefined, { 'x-forwarded-for': '1.1.1.1' }, { xForwarded: 'append' });

      expect(seen['x-forwarded-for']).toBe('1.1.1.1, 127.0.0.1');
    });

    it.each<[string, Record<string, string>]>([
      ['no X-Forwarded-For', {}],
      ['an empty X-Forwarded-For', { 'x-forwarded-for': '' }],
    ])("'append' gives a request with %s just the peer address, no empty entry before it", async (_what, headers) => {
      const { seen } = await send(undefined, headers, { xForwarded: 'append' });

      expect(seen['x-forwarded-for']).toBe('127.0.0.1');
    });

    it("'append' sends no X-Forwarded-Host when the request has no Host, rather than the client's", async () => {
      upstream = await startUpstream('real');
      balanced = await startBalancer({ targets: [upstream.url], xForwarded: 'append' });

      await rawRequest(balanced.front.port, 'GET /h HTTP/1.0\r\nX-Forwarded-Host: spoofed.example');

      expect(upstream.seen[0]!.headers['x-forwarded-host']).toBeUndefined();
    });

    it("'replace' sends only the peer and this hop, even from a trusted proxy", async () => {
      const { seen } = await send('loopback', SPOOFED, { xForwarded: 'replace' });

      expect(forwardingHeaders(seen)).toEqual(THIS_HOP_ONLY);
    });

    it('false sends no forwarding headers at all, and drops the client ones', async () => {
      const { seen } = await send('loopback', SPOOFED, { xForwarded: false });

      expect(forwardingHeaders(seen)).toEqual({});
      expect(seen.host).toBe(`127.0.0.1:${upstream!.port}`);
    });
  });
});

function omit<T extends object, K extends keyof T>(object: T, key: K): Omit<T, K> {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars -- `_dropped` takes the key out of `rest`; it is unused by design
  const { [key]: _dropped, ...rest } = object;
  return rest;
}

describe('the xForwarded option is checked at construction', () => {
  const targets = ['http://127.0.0.1:3001'];

  it.each<[unknown]>([[true], ['trust'], ['APPEND'], ['prepend'], [null], [0], [['append']]])(
    'rejects %j with a TypeError naming xForwarded',
    (value) => {
      expect(() => loadBalance({ targets, xForwarded: value } as unknown as LoadBalanceOptions)).toThrow(TypeError);
      expect(() => loadBalance({ targets, xForwarded: value } as unknown as LoadBalanceOptions)).toThrow(/"xForwarded"/);
    },
  );

  it.each<[LoadBalanceOptions['xForwarded']]>([['append'], ['replace'], [false], [undefined]])('accepts %j', async (value) => {
    const lb = loadBalance({ targets, xForwarded: value });
    await lb.close();
  });
});

// Skipped on a developer's machine without the openssl CLI (which makes the certificate);
// on CI (.ci/run installs it) a missing openssl must fail the run.
const withOpenssl = OPENSSL !== undefined || process.env.CI === 'true' ? describe : describe.skip;

withOpenssl('a balancer served over HTTPS', () => {
  let upstream: Upstream | undefined;
  let server: https.Server | undefined;
  let lb: ReturnType<typeof loadBalance> | undefined;
  afterEach(async () => {
    await lb?.close();
    if (server !== undefined) await new Promise<void>((resolve) => server!.close(() => resolve()));
    await upstream?.close();
    [upstream, server, lb] = [undefined, undefined, undefined];
  });

  it.each<[string, LoadBalanceOptions['xForwarded']]>([
    ['trust', undefined],
    ['append', 'append'],
    ['replace', 'replace'],
  ])('says https in X-Forwarded-Proto to the upstream behind it (%s)', async (_mode, xForwarded) => {
    upstream = await startUpstream('plain');
    const cert = selfSignedCert('balancer.test');
    lb = loadBalance({ targets: [upstream.url], xForwarded });
    const app = express();
    app.use(lb);
    server = https.createServer(cert, app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;

    const status = await new Promise<number>((resolve, reject) => {
      https
        .get(
          { host: '127.0.0.1', port, path: '/', ca: cert.cert, servername: 'balancer.test', headers: { host: 'balancer.test' } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        )
        .on('error', reject);
    });

    expect(status).toBe(200);
    expect(upstream.seen[0]!.headers['x-forwarded-proto']).toBe('https');
  });
});
