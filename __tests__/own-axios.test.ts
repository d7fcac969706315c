import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosResponse, type CreateAxiosDefaults, type InternalAxiosRequestConfig } from 'axios';
import { loadBalance } from 'express-load-balance';
import { closeAll, deadUrl, first, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

function addHeader(name: string, value: string) {
  return (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig => {
    config.headers.set(name, value);
    return config;
  };
}

describe('the axios option', () => {
  let upstream: Upstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, upstream));

  it("sends upstream the header an instance's interceptor adds, and leaves the instance working for the app", async () => {
    upstream = await startUpstream('a', (app) => app.get('/json', (_req, res) => void res.json({ from: 'a' })));
    const mine = axios.create({ headers: { common: { 'x-app': 'mine' } } });
    mine.interceptors.request.use(addHeader('x-signed', 'yes'));
    balanced = await startBalancer({ targets: [upstream.url], axios: mine });

    const response = await request(balanced.url, { path: '/x' });
    expect(response.text).toBe('Response from server Test: a');
    expect(upstream.seen[0]!.headers['x-signed']).toBe('yes');
    expect(upstream.seen[0]!.headers['x-app']).toBe('mine');
    expect(balanced.lb.axios).not.toBe(mine);

    // The app's own calls through the same instance still get parsed JSON, not a stream.
    const own = await mine.get(`${upstream.url}/json`);
    expect(own.data).toEqual({ from: 'a' });
    expect(mine.defaults.responseType).toBeUndefined();
    expect(mine.defaults.adapter).toEqual(axios.defaults.adapter);
  });

  it('sends upstream the header an interceptor added on lb.axios after a config was given', async () => {
    upstream = await startUpstream('a');
    balanced = await startBalancer({ targets: [upstream.url], axios: { headers: { common: { 'x-from-config': '1' } } } });
    balanced.lb.axios.interceptors.request.use(addHeader('x-signed', 'later'));

    await request(balanced.url, { path: '/x' });
    expect(upstream.seen[0]!.headers['x-signed']).toBe('later');
    expect(upstream.seen[0]!.headers['x-from-config']).toBe('1');
  });

  it('lets a request interceptor observe the upstream URL: the target URL plus the path', async () => {
    upstream = await startUpstream('a');
    const mine = axios.create();
    const urls: Array<string | undefined> = [];
    mine.interceptors.request.use((config) => {
      urls.push(config.url);
      return config;
    });
    balanced = await startBalancer({ targets: [`${upstream.url}/v1`], axios: mine }, { mount: '/api' });

    const response = await request(balanced.url, { path: '/api/users/7?full=1', headers: { accept: 'text/plain' } });
    expect(response.status).toBe(200);
    expect(urls).toEqual([`${upstream.url}/v1/users/7?full=1`]);
    expect(upstream.seen[0]!.url).toBe('/v1/users/7?full=1');
    expect(upstream.seen[0]!.headers.accept).toBe('text/plain');
  });

  it('still sends to the chosen target when an interceptor points config.url at another host', async () => {
    upstream = await startUpstream('a');
    const canary = await startUpstream('canary');
    try {
      balanced = await startBalancer({ targets: [upstream.url] });
      balanced.lb.axios.interceptors.request.use((config) => {
        config.url = `${canary.url}/stolen`;
        config.baseURL = canary.url;
        return config;
      });
      const response = await request(balanced.url, { path: '/x' });
      expect(response.text).toBe('Response from server Test: a');
      expect(canary.seen).toEqual([]);
      expect(canary.sockets).toHaveLength(0);
    } finally {
      await canary.close();
    }
  });

  it("does not copy an instance's response interceptors, made for the app's own calls", async () => {
    upstream = await startUpstream('a');
    const mine = axios.create();
    // The app's own kind of interceptor: it hands its callers the body, not the response.
    mine.interceptors.response.use((response) => response.data as AxiosResponse);
    balanced = await startBalancer({ targets: [upstream.url], axios: mine });
    const response = await request(balanced.url, { path: '/x' });
    expect(response.text).toBe('Response from server Test: a');
  });

  it('passes a TypeError to next(err) when a response interceptor on lb.axios drops the response', async () => {
    upstream = await startUpstream('a');
    balanced = await startBalancer({ targets: [upstream.url] });
    // Wrong on lb.axios: the body where the balancer expects the response.
    balanced.lb.axios.interceptors.response.use((response) => response.data as AxiosResponse);
    const response = await request(balanced.url, { path: '/x' });
    expect(response.status).toBe(500);
    expect(balanced.errors).toHaveLength(1);
    expect(String(balanced.errors[0])).toContain('response interceptor must return the response');
    expect(balanced.lb.targets()[0]).toMatchObject({ inFlight: 0, failures: 0 });
  });

  it('passes what a request interceptor throws to next(err), sending nothing and blaming no target', async () => {
    upstream = await startUpstream('a');
    const other = await startUpstream('b');
    const thrown = new Error('signing service down');
    try {
      balanced = await startBalancer({ targets: [upstream.url, other.url], retries: 2 });
      balanced.lb.axios.interceptors.request.use(() => {
        throw thrown;
      });
      const response = await request(balanced.url, { path: '/x' });
      expect(response.status).toBe(500);
      expect(balanced.errors).toEqual([thrown]);
      expect([...upstream.seen, ...other.seen]).toEqual([]);
      expect(balanced.lb.targets().map((t) => [t.inFlight, t.failures])).toEqual([
        [0, 0],
        [0, 0],
      ]);
    } finally {
      await other.close();
    }
  });

  // A POST is retried only when it cannot have reached the upstream: the transport's
  // verdict must survive an interceptor that replaces the error.
  it('still retries a POST whose connection was refused when a response interceptor replaces the error', async () => {
    const gone = await deadUrl();
    upstream = await startUpstream('a');
    balanced = await startBalancer({ targets: [gone, upstream.url], strategy: first, retries: 1 });
    balanced.lb.axios.interceptors.response.use(undefined, () => Promise.reject(new Error('wrapped by the app')));
    const response = await request(balanced.url, { method: 'POST', path: '/x', body: 'once' });
    expect(response.text).toBe('Response from server Test: a');
    expect(balanced.lb.targets()[0]).toMatchObject({ failures: 1, inFlight: 0 });
    expect(upstream.seen.map((seen) => seen.body.toString())).toEqual(['once']);
  });

  it("adds none of axios's default headers to what the client sent", async () => {
    upstream = await startUpstream('a');
    balanced = await startBalancer({ targets: [upstream.url], axios: axios.create() });
    await request(balanced.url, { path: '/x' });
    await request(balanced.url, { method: 'POST', path: '/x', body: '' });
    expect(upstream.seen.map((seen) => seen.method)).toEqual(['GET', 'POST']);
    for (const seen of upstream.seen) {
      for (const name of ['accept', 'content-type', 'user-agent', 'accept-encoding']) expect(seen.headers[name]).toBeUndefined();
    }
  });

  it('sends requests through the given agent and leaves it open after close()', async () => {
    upstream = await startUpstream('a');
    const agent = new http.Agent({ keepAlive: true });
    try {
      balanced = await startBalancer({ targets: [upstream.url], axios: { httpAgent: agent } });
      await request(balanced.url, { path: '/1' });
      await request(balanced.url, { path: '/2' });
      const pooled = Object.values(agent.freeSockets).flat();
      expect(pooled).toHaveLength(1);
      expect(upstream.sockets).toHaveLength(1);

      await balanced.lb.close();
      expect(pooled[0]!.destroyed).toBe(false);
      // The app can still use its agent.
      const status = await new Promise<number | undefined>((resolve, reject) => {
        http
          .get(`${upstream!.url}/3`, { agent }, (res) => {
            res.resume();
            resolve(res.statusCode);
          })
          .on('error', reject);
      });
      expect(status).toBe(200);
      expect(upstream.sockets).toHaveLength(1);
    } finally {
      agent.destroy();
    }
  });
});

describe('settings of the axios option the balancer owns', () => {
  const target = 'http://127.0.0.1:3000';

  // [setting, what the value is, a value that would change what is forwarded]
  const REFUSED: Array<[string, string, unknown]> = [
    ['adapter', 'a function', () => Promise.reject(new Error('mine'))],
    ['adapter', "'fetch'", 'fetch'],
    ['responseType', "'json'", 'json'],
    ['maxRedirects', '5', 5],
    ['decompress', 'true', true],
    ['validateStatus', 'a function', (status: number) => status < 500],
    ['transformRequest', 'a list of functions', [(data: unknown) => data]],
    ['transformResponse', 'a list of functions', [(data: unknown) => data]],
    ['maxContentLength', '1000', 1000],
    ['maxBodyLength', '1000', 1000],
    ['timeout', '5000', 5000],
    ['proxy', 'a proxy', { host: '127.0.0.1', port: 8080 }],
    ['baseURL', 'a URL', 'http://127.0.0.1:9/'],
    ['params', 'an object', { a: 1 }],
    ['socketPath', 'a path', '/tmp/s.sock'],
    ['auth', 'credentials', { username: 'u', password: 'p' }],
    ['httpAgent', 'a plain object', {}],
    ['httpsAgent', 'an http (not https) agent', new http.Agent()],
  ];

  it.each(REFUSED)('refuses axios.%s = %s in a config', (setting, _what, value) => {
    const config = { [setting]: value } as CreateAxiosDefaults;
    expect(() => loadBalance({ targets: [target], axios: config })).toThrow(TypeError);
    expect(() => loadBalance({ targets: [target], axios: config })).toThrow(`"axios.${setting}"`);
  });

  it.each(REFUSED)("refuses axios.%s = %s in an instance's defaults", (setting, _what, value) => {
    const instance = axios.create();
    (instance.defaults as unknown as Record<string, unknown>)[setting] = value;
    expect(() => loadBalance({ targets: [target], axios: instance })).toThrow(`"axios.${setting}"`);
  });

  // Values equal to axios's defaults or to the balancer's own are fine.
  const ACCEPTED: Array<[string, CreateAxiosDefaults]> = [
    ['an empty config', {}],
    [
      'the settings the balancer sets itself',
      { responseType: 'stream', maxRedirects: 0, decompress: false, validateStatus: null, proxy: false, timeout: 0 },
    ],
    ['agents', { httpAgent: new http.Agent(), httpsAgent: new https.Agent() }],
    ['headers', { headers: { common: { authorization: 'Bearer x' } } }],
  ];

  it.each(ACCEPTED)('accepts %s', async (_name, config) => {
    const lb = loadBalance({ targets: [target], axios: config });
    await lb.close();
  });

  it('accepts a fresh instance with all of axios defaults', async () => {
    const lb = loadBalance({ targets: [target], axios: axios.create() });
    await lb.close();
  });

  it.each([
    ['a string', 'axios'],
    ['null', null],
    ['a plain function', () => undefined],
    ['an array', []],
  ])('refuses %s as the axios option', (_name, value) => {
    expect(() => loadBalance({ targets: [target], axios: value as never })).toThrow('option "axios"');
  });
});
