import type http from 'node:http';
import express from 'express';
import { loadBalance, type LoadBalanceMiddleware, type LoadBalanceOptions } from 'express-load-balance';
import { STRATEGIES } from '../src/balancing/strategies';
import { normalizeOptions } from '../src/options/normalize';
import { rawRequest } from './helpers/raw-client';
import { closeAll, listen, request, startBalancer, type Balanced, type RunningServer } from './helpers/servers';

/** An upstream that answers every request with the status and headers the test sets. */
interface ScriptedUpstream extends RunningServer {
  answer: { status: number; headers: Record<string, string | string[]> };
}

async function startScripted(): Promise<ScriptedUpstream> {
  const upstream: ScriptedUpstream = Object.assign(
    await listen((_req, res) => {
      res.writeHead(upstream.answer.status, upstream.answer.headers);
      res.end('upstream body');
    }),
    { answer: { status: 200, headers: {} } },
  );
  return upstream;
}

describe('response rewrites (http-proxy-middleware names)', () => {
  let upstream: ScriptedUpstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, upstream));

  /** Starts an upstream answering `headers`, a balancer on it, and sends one request. */
  async function through(
    options: Omit<LoadBalanceOptions, 'targets'>,
    answer: { status?: number; headers: Record<string, string | string[]> },
    {
      basePath = '',
      mount = '/',
      path = mount === '/' ? '/x' : `${mount}/x`,
      headers = {},
      app,
    }: { basePath?: string; mount?: string; path?: string; headers?: http.OutgoingHttpHeaders; app?: express.Express } = {},
  ): Promise<http.IncomingHttpHeaders> {
    upstream = await startScripted();
    upstream.answer = { status: answer.status ?? 200, headers: answer.headers };
    balanced = await startBalancer({ targets: [upstream.url + basePath], ...options }, { mount, app });
    const response = await request(balanced.url, { path, headers });
    expect(response.text).toBe('upstream body');
    return response.headers;
  }

  /** The upstream's own origin, known once it listens: a placeholder in Location values. */
  const ORIGIN = '{origin}';
  async function location(
    options: Omit<LoadBalanceOptions, 'targets'>,
    status: number,
    value: string,
    where: Parameters<typeof through>[2] = {},
    header: 'location' | 'content-location' = 'location',
  ): Promise<string | undefined> {
    upstream = await startScripted();
    const target = upstream.url;
    upstream.answer = { status, headers: { [header]: value.replace(ORIGIN, target) } };
    balanced = await startBalancer(
      { targets: [target + (where.basePath ?? '')], ...options },
      { mount: where.mount ?? '/', app: where.app },
    );
    const mount = where.mount ?? '/';
    const response = await request(balanced.url, {
      path: where.path ?? (mount === '/' ? '/x' : `${mount}/x`),
      headers: where.headers ?? {},
    });
    const got = response.headers[header];
    return got?.replace(target, ORIGIN);
  }

  describe('cookieDomainRewrite', () => {
    // [what, option, the upstream's Set-Cookie values, what the client gets]
    it.each<[string, LoadBalanceOptions['cookieDomainRewrite'], string[], string[]]>([
      [
        'a string replaces every Domain, in each of several cookies',
        'shop.example',
        ['a=1; Domain=internal.local; Path=/', 'b=2; Path=/; domain=other.local; HttpOnly'],
        ['a=1; Domain=shop.example; Path=/', 'b=2; Path=/; domain=shop.example; HttpOnly'],
      ],
      ['reads the attribute name in any case', 'shop.example', ['a=1; DOMAIN=internal.local'], ['a=1; DOMAIN=shop.example']],
      ['leaves a cookie without Domain as it is', 'shop.example', ['a=1; Path=/v1;  Secure', 'b=2'], ['a=1; Path=/v1;  Secure', 'b=2']],
      ['an empty string removes the attribute', '', ['a=1; Domain=internal.local; Path=/'], ['a=1; Path=/']],
      [
        'a map rewrites the domains it lists, matched in any case',
        { 'internal.local': 'shop.example' },
        ['a=1; Domain=Internal.Local', 'b=2; Domain=other.local'],
        ['a=1; Domain=shop.example', 'b=2; Domain=other.local'],
      ],
      [
        "a map's '*' takes any domain it does not list",
        { 'internal.local': 'shop.example', '*': '' },
        ['a=1; Domain=internal.local; Secure', 'b=2; Domain=other.local; Secure'],
        ['a=1; Domain=shop.example; Secure', 'b=2; Secure'],
      ],
      ['false leaves every cookie alone', false, ['a=1; Domain=internal.local'], ['a=1; Domain=internal.local']],
      ['a cookie value that looks like an attribute is not one', 'shop.example', ['domain=internal.local'], ['domain=internal.local']],
    ])('%s', async (_what, cookieDomainRewrite, sent, received) => {
      const headers = await through({ cookieDomainRewrite }, { headers: { 'set-cookie': sent } });
      expect(headers['set-cookie']).toEqual(received);
    });
  });

  describe('cookiePathRewrite', () => {
    it.each<[string, LoadBalanceOptions['cookiePathRewrite'], string[], string[]]>([
      ['a string replaces every Path', '/api', ['a=1; Path=/v1; HttpOnly', 'b=2; path=/'], ['a=1; Path=/api; HttpOnly', 'b=2; path=/api']],
      [
        'a map matches paths exactly, case included',
        { '/v1': '/api' },
        ['a=1; Path=/v1', 'b=2; Path=/V1', 'c=3; Path=/v1/x'],
        ['a=1; Path=/api', 'b=2; Path=/V1', 'c=3; Path=/v1/x'],
      ],
      ['an empty string removes the attribute', { '*': '' }, ['a=1; Path=/v1; Secure'], ['a=1; Secure']],
      ['leaves a cookie without Path as it is', '/api', ['a=1; Domain=x.local'], ['a=1; Domain=x.local']],
    ])('%s', async (_what, cookiePathRewrite, sent, received) => {
      const headers = await through({ cookiePathRewrite }, { headers: { 'set-cookie': sent } });
      expect(headers['set-cookie']).toEqual(received);
    });

    it('works together with cookieDomainRewrite on the same cookie', async () => {
      const headers = await through(
        { cookieDomainRewrite: 'shop.example', cookiePathRewrite: { '/v1': '/api' } },
        { headers: { 'set-cookie': ['sid=1; Domain=internal.local; Path=/v1; HttpOnly'] } },
      );
      expect(headers['set-cookie']).toEqual(['sid=1; Domain=shop.example; Path=/api; HttpOnly']);
    });

    it("does not rewrite the balancer's own sticky cookie", async () => {
      const headers = await through(
        { cookiePathRewrite: '/elsewhere', sticky: { cookie: 'lb' } },
        { headers: { 'set-cookie': ['a=1; Path=/v1'] } },
        { mount: '/api' },
      );
      expect(headers['set-cookie']).toEqual(['a=1; Path=/elsewhere', expect.stringMatching(/^lb=[^;]+; Path=\/api;/)]);
    });
  });

  describe('autoRewrite', () => {
    const FRONT = { headers: { host: 'shop.test:8443' } };

    it.each([201, 301, 302, 303, 307, 308])(
      "points a %d's Location at the target back at the balancer, mount path for base path",
      async (status) => {
        const got = await location({ autoRewrite: true }, status, `${ORIGIN}/v1/items/7?x=1#top`, {
          ...FRONT,
          basePath: '/v1',
          mount: '/api',
        });
        expect(got).toBe('http://shop.test:8443/api/items/7?x=1#top');
      },
    );

    it.each([200, 204, 404])('leaves the Location of a %d alone', async (status) => {
      const got = await location({ autoRewrite: true }, status, `${ORIGIN}/v1/items/7`, { ...FRONT, basePath: '/v1', mount: '/api' });
      expect(got).toBe(`${ORIGIN}/v1/items/7`);
    });

    it('rewrites Content-Location too', async () => {
      const got = await location({ autoRewrite: true }, 201, `${ORIGIN}/items/7`, { ...FRONT, mount: '/api' }, 'content-location');
      expect(got).toBe('http://shop.test:8443/api/items/7');
    });

    // [what, Location the upstream sends (ORIGIN is the answering target's)]
    it.each([
      ['another port', 'http://127.0.0.1:1/v1/items'],
      ['another host', 'http://localhost.test/v1/items'],
      ['another scheme on the same host and port', 'https://{host}/v1/items'],
      ['user info before the same host', 'http://user@{host}/v1/items'],
      ['a backslash after the same host', 'http://{host}\\evil.test/v1/items'],
      ['a relative path', '/v1/items'],
      ['a protocol-relative URL', '//{host}/v1/items'],
      ['not a URL at all', 'http://[/v1'],
    ])('never rewrites a Location pointing elsewhere: %s', async (_what, value) => {
      upstream = await startScripted();
      const hostPort = new URL(upstream.url).host;
      const sent = value.replace('{host}', hostPort).replace('{port}', String(upstream.port));
      upstream.answer = { status: 302, headers: { location: sent } };
      balanced = await startBalancer({ targets: [`${upstream.url}/v1`], autoRewrite: true }, { mount: '/api' });
      const response = await request(balanced.url, { path: '/api/x', ...FRONT });
      expect(response.headers.location).toBe(sent);
    });

    it('matches the scheme in any case', async () => {
      upstream = await startScripted();
      const sent = upstream.url.replace('http://', 'HTTP://') + '/items';
      upstream.answer = { status: 302, headers: { location: sent } };
      balanced = await startBalancer({ targets: [upstream.url], autoRewrite: true });
      const response = await request(balanced.url, { path: '/x', ...FRONT });
      expect(response.headers.location).toBe('http://shop.test:8443/items');
    });

    it.each([
      ['mounted at the root, base path /v1', '/v1', '/', '/v1/items/7', 'http://shop.test:8443/items/7'],
      ['mounted at /api, no base path', '', '/api', '/items/7', 'http://shop.test:8443/api/items/7'],
      ['the same prefix on both sides', '/api', '/api', '/api/items/7', 'http://shop.test:8443/api/items/7'],
      ['a path outside the base path is kept', '/v1', '/api', '/other/7', 'http://shop.test:8443/other/7'],
      ['a base path is matched by whole segments', '/v1', '/api', '/v10/7', 'http://shop.test:8443/v10/7'],
      ['the base path alone', '/v1', '/api', '/v1?page=2', 'http://shop.test:8443/api?page=2'],
    ])('maps paths: %s', async (_what, basePath, mount, path, expected) => {
      const got = await location({ autoRewrite: true }, 302, `${ORIGIN}${path}`, { ...FRONT, basePath, mount });
      expect(got).toBe(expected);
    });

    it('takes the scheme and host a trusted proxy reports, as req.protocol and req.host do', async () => {
      const app = express();
      app.set('trust proxy', 'loopback');
      const got = await location({ autoRewrite: true }, 302, `${ORIGIN}/v1/a`, {
        app,
        basePath: '/v1',
        mount: '/api',
        headers: { host: 'internal:8080', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'shop.example, proxy.local' },
      });
      expect(got).toBe('https://shop.example/api/a');
    });

    it('trims the space a trusted proxy left before the comma in X-Forwarded-Host', async () => {
      const app = express();
      app.set('trust proxy', 'loopback');
      const got = await location({ autoRewrite: true }, 302, `${ORIGIN}/a`, {
        app,
        headers: { host: 'internal:8080', 'x-forwarded-host': 'shop.example , proxy.local' },
      });
      expect(got).toBe('http://shop.example/a');
    });

    it('takes the Host when a trusted proxy sent no X-Forwarded-Host', async () => {
      const app = express();
      app.set('trust proxy', 'loopback');
      const got = await location({ autoRewrite: true }, 302, `${ORIGIN}/a`, { app, headers: { host: 'front.test' } });
      expect(got).toBe('http://front.test/a');
    });

    it('keeps the target host in a Location when the request Host is empty: there is no other to give', async () => {
      upstream = await startScripted();
      upstream.answer = { status: 302, headers: { location: `${upstream.url}/a` } };
      balanced = await startBalancer({ targets: [upstream.url], autoRewrite: true });
      // node:http's client would fill in an empty Host.
      const response = await rawRequest(balanced.front.port, 'GET /x HTTP/1.1\r\nHost:');
      const locations = response.headers.filter(([name]) => name.toLowerCase() === 'location').map(([, value]) => value);
      expect(locations).toEqual([`${upstream.url}/a`]);
    });

    it('ignores X-Forwarded-Proto and -Host from a peer nobody trusts', async () => {
      const got = await location({ autoRewrite: true }, 302, `${ORIGIN}/a`, {
        headers: { host: 'front.test', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test' },
      });
      expect(got).toBe('http://front.test/a');
    });

    it('rewrites each of several Content-Location headers', async () => {
      upstream = await startScripted();
      upstream.answer = { status: 302, headers: { 'content-location': [`${upstream.url}/a`, 'http://elsewhere.test/b'] } };
      balanced = await startBalancer({ targets: [upstream.url], autoRewrite: true });
      const response = await request(balanced.url, { path: '/x', ...FRONT });
      expect(response.headers['content-location']).toBe('http://shop.test:8443/a, http://elsewhere.test/b');
    });
  });

  describe('hostRewrite and protocolRewrite', () => {
    const FRONT = { headers: { host: 'front.test' }, basePath: '/v1', mount: '/api' };

    it.each<[string, Omit<LoadBalanceOptions, 'targets'>, string]>([
      ['hostRewrite sets the host and maps the path', { hostRewrite: 'shop.example:8443' }, 'http://shop.example:8443/api/items'],
      ['hostRewrite wins over autoRewrite', { hostRewrite: 'shop.example', autoRewrite: true }, 'http://shop.example/api/items'],
      ['protocolRewrite alone changes only the scheme', { protocolRewrite: 'https' }, 'https://{host}/v1/items'],
      ['protocolRewrite wins over autoRewrite', { protocolRewrite: 'https', autoRewrite: true }, 'https://front.test/api/items'],
      ['all three', { protocolRewrite: 'https', hostRewrite: 'shop.example', autoRewrite: true }, 'https://shop.example/api/items'],
    ])('%s', async (_what, options, expected) => {
      const got = await location(options, 301, `${ORIGIN}/v1/items`, FRONT);
      expect(got).toBe(expected.replace('{host}', new URL(upstream!.url).host));
    });

    it('never rewrites a Location to another origin', async () => {
      const got = await location({ hostRewrite: 'shop.example', protocolRewrite: 'https' }, 301, 'http://elsewhere.test/v1/items', FRONT);
      expect(got).toBe('http://elsewhere.test/v1/items');
    });
  });

  it('leaves every header alone when no rewrite option is on', async () => {
    const headers = await through(
      {},
      { status: 302, headers: { location: 'http://127.0.0.1:1/v1', 'set-cookie': ['a=1; Domain=internal.local; Path=/v1'] } },
    );
    expect(headers.location).toBe('http://127.0.0.1:1/v1');
    expect(headers['set-cookie']).toEqual(['a=1; Domain=internal.local; Path=/v1']);
  });
});

describe('response rewrite options', () => {
  function build(options: Record<string, unknown>): LoadBalanceMiddleware {
    return (loadBalance as (options: unknown) => LoadBalanceMiddleware)({ targets: ['http://127.0.0.1:3001'], ...options });
  }

  // [what is wrong, options, the option the message must name]
  it.each<[string, Record<string, unknown>, string]>([
    ['cookieDomainRewrite true', { cookieDomainRewrite: true }, 'cookieDomainRewrite'],
    ['cookieDomainRewrite null', { cookieDomainRewrite: null }, 'cookieDomainRewrite'],
    ['cookieDomainRewrite an array', { cookieDomainRewrite: ['a'] }, 'cookieDomainRewrite'],
    ['cookieDomainRewrite a number', { cookieDomainRewrite: 1 }, 'cookieDomainRewrite'],
    ['a map value that is not a string', { cookieDomainRewrite: { a: 1 } }, 'cookieDomainRewrite["a"]'],
    ['a value with ";"', { cookieDomainRewrite: 'a; Secure' }, 'cookieDomainRewrite'],
    ['a value with CR LF', { cookiePathRewrite: { '/': '/a\r\nX-Evil: 1' } }, 'cookiePathRewrite["/"]'],
    ['cookiePathRewrite a Map', { cookiePathRewrite: new Map() }, 'cookiePathRewrite'],
    ['autoRewrite a string', { autoRewrite: 'yes' }, 'autoRewrite'],
    ['autoRewrite null', { autoRewrite: null }, 'autoRewrite'],
    ['hostRewrite a URL', { hostRewrite: 'https://shop.example' }, 'hostRewrite'],
    ['hostRewrite with a path', { hostRewrite: 'shop.example/x' }, 'hostRewrite'],
    ['hostRewrite empty', { hostRewrite: '' }, 'hostRewrite'],
    ['hostRewrite true', { hostRewrite: true }, 'hostRewrite'],
    ['protocolRewrite with a colon', { protocolRewrite: 'https:' }, 'protocolRewrite'],
    ['protocolRewrite ftp', { protocolRewrite: 'ftp' }, 'protocolRewrite'],
  ])('%s', (_what, options, named) => {
    expect(() => build(options)).toThrow(TypeError);
    expect(() => build(options)).toThrow(`"${named}"`);
  });

  it.each<[string, Record<string, unknown>]>([
    ['none given', {}],
    ['every one off', { cookieDomainRewrite: false, cookiePathRewrite: false, autoRewrite: false }],
    ['empty maps', { cookieDomainRewrite: {}, cookiePathRewrite: {} }],
  ])('costs nothing per response when %s: no rewrite step at all', (_what, options) => {
    const config = normalizeOptions({ targets: ['http://127.0.0.1:3001'], ...options }, STRATEGIES);
    expect(config.responseRewrites).toBeUndefined();
  });

  it('accepts each variant', async () => {
    const lb = build({
      cookieDomainRewrite: { 'internal.local': 'shop.example', '*': '' },
      cookiePathRewrite: '/api',
      autoRewrite: true,
      hostRewrite: '[::1]:8443',
      protocolRewrite: 'https',
    });
    await lb.close();
  });
});
