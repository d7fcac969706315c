import { AxiosHeaders, CanceledError, type InternalAxiosRequestConfig } from 'axios';
import type { LoadBalanceOptions } from 'express-load-balance';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

/** An interceptor that appends `step` to the `x-steps` header, so the upstream sees the order they ran in. */
function step(name: string) {
  return (config: InternalAxiosRequestConfig): InternalAxiosRequestConfig => {
    const before = config.headers.get('x-steps');
    config.headers.set('x-steps', typeof before === 'string' ? `${before},${name}` : name);
    return config;
  };
}

describe('interceptors on lb.axios, run by the balancer the way axios runs them', () => {
  let upstream: Upstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced, upstream));

  async function start(options: Partial<LoadBalanceOptions> = {}): Promise<Balanced> {
    upstream = await startUpstream('a');
    balanced = await startBalancer({ targets: [upstream.url], ...options });
    return balanced;
  }

  const seen = (name: string): string | string[] | undefined => upstream!.seen[0]!.headers[name];

  it('runs request interceptors last-added first, as axios does by default', async () => {
    const { lb, url } = await start();
    lb.axios.interceptors.request.use(step('first-added'));
    lb.axios.interceptors.request.use(step('second-added'));

    await request(url, { path: '/x' });
    expect(seen('x-steps')).toBe('second-added,first-added');
  });

  it('runs them in the order added when legacyInterceptorReqResOrdering is false', async () => {
    const { lb, url } = await start();
    lb.axios.defaults.transitional = { ...lb.axios.defaults.transitional, legacyInterceptorReqResOrdering: false };
    lb.axios.interceptors.request.use(step('first-added'));
    lb.axios.interceptors.request.use(step('second-added'));

    await request(url, { path: '/x' });
    expect(seen('x-steps')).toBe('first-added,second-added');
  });

  it('skips an interceptor whose runWhen says no, and an ejected one', async () => {
    const { lb, url } = await start();
    lb.axios.interceptors.request.use(step('kept'));
    lb.axios.interceptors.request.use(step('get-only'), null, { runWhen: (config) => config.method === 'get' });
    const ejected = lb.axios.interceptors.request.use(step('ejected'));
    lb.axios.interceptors.request.eject(ejected);

    await request(url, { path: '/x', method: 'POST', body: 'b' });
    expect(seen('x-steps')).toBe('kept');
  });

  it('waits for an interceptor that returns a promise before sending', async () => {
    const { lb, url } = await start();
    lb.axios.interceptors.request.use(async (config) => {
      await new Promise((resolve) => setImmediate(resolve));
      config.headers.set('x-signed', 'after-await');
      return config;
    });

    await request(url, { path: '/x' });
    expect(seen('x-signed')).toBe('after-await');
  });

  it("hands what one interceptor throws to the next one's onRejected, with promise semantics", async () => {
    const { lb, url, errors } = await start();
    const ran: string[] = [];
    // Added first, so it runs second: its onRejected sees the error of the one added after it.
    lb.axios.interceptors.request.use(
      (config) => {
        ran.push('second fulfilled');
        return config;
      },
      (error: Error) => {
        ran.push('second rejected');
        throw new Error(`seen by the next step: ${error.message}`);
      },
    );
    lb.axios.interceptors.request.use(
      () => {
        throw new Error('signing failed');
      },
      () => ran.push('own rejected'),
    );

    const response = await request(url, { path: '/x' });
    expect(response.status).toBe(500);
    expect(ran).toEqual(['second rejected']);
    expect((errors[0] as Error).message).toBe('seen by the next step: signing failed');
    expect(upstream!.seen).toHaveLength(0);
  });

  it('with synchronous interceptors, lets the throwing one recover itself and sends the config as it was', async () => {
    const { lb, url } = await start();
    lb.axios.interceptors.request.use(step('after'), null, { synchronous: true });
    lb.axios.interceptors.request.use(
      () => {
        throw new Error('no key');
      },
      () => undefined,
      { synchronous: true },
    );
    lb.axios.interceptors.request.use(step('before'), null, { synchronous: true });

    const response = await request(url, { path: '/x' });
    expect(response.status).toBe(200);
    // axios stops the chain at the step that threw and sends what the steps before it made.
    expect(seen('x-steps')).toBe('before');
  });

  it('shows interceptors a normal config: the defaults, a lower-case method, the URL, AxiosHeaders with the client headers', async () => {
    const { lb, url } = await start();
    let config: InternalAxiosRequestConfig | undefined;
    lb.axios.interceptors.request.use((c) => (config = c));

    await request(url, { path: '/items?q=1', method: 'PUT', body: 'x', headers: { 'x-client': 'c' } });
    expect(config!.method).toBe('put');
    expect(config!.url).toBe(`${upstream!.url}/items?q=1`);
    expect(config!.responseType).toBe('stream');
    expect(config!.maxRedirects).toBe(0);
    expect(config!.headers).toBeInstanceOf(AxiosHeaders);
    expect(config!.headers.get('X-Client')).toBe('c');
  });

  it("lets the client's header win over a default header of the same name in another case", async () => {
    const { lb, url } = await start({ axios: { headers: { common: { 'X-Env': 'default', 'X-Only-Default': 'd' } } } });
    let inInterceptor: unknown;
    lb.axios.interceptors.request.use((config) => {
      inInterceptor = config.headers.get('X-ENV');
      return config;
    });

    await request(url, { path: '/x', headers: { 'x-env': 'client' } });
    expect(inInterceptor).toBe('client');
    expect(seen('x-env')).toBe('client');
    expect(seen('x-only-default')).toBe('d');
  });

  it('lets an interceptor delete a header that both the defaults and the client set', async () => {
    const { lb, url } = await start({ axios: { headers: { common: { 'X-Env': 'default' } } } });
    lb.axios.interceptors.request.use((config) => {
      config.headers.delete('x-env');
      return config;
    });

    await request(url, { path: '/x', headers: { 'x-env': 'client' } });
    expect(seen('x-env')).toBeUndefined();
  });

  it('sends a plain object an interceptor put in place of the headers', async () => {
    const { lb, url } = await start();
    lb.axios.interceptors.request.use((config) => {
      (config as unknown as { headers: Record<string, string> }).headers = { 'x-only': 'this', host: 'example.test' };
      return config;
    });

    await request(url, { path: '/x', headers: { 'x-client': 'c' } });
    expect(seen('x-only')).toBe('this');
    expect(seen('x-client')).toBeUndefined();
  });

  it("forwards a client header named like an AxiosHeaders method, and keeps the interceptors' methods working", async () => {
    const { lb, url } = await start();
    lb.axios.interceptors.request.use(step('ran'));

    const response = await request(url, { path: '/x', headers: { tojson: 'client-value', set: 'also' } });
    expect(response.status).toBe(200);
    expect(seen('x-steps')).toBe('ran');
    expect(seen('tojson')).toBe('client-value');
    expect(seen('set')).toBe('also');
  });

  it("keeps an interceptor's change to a default object to its own request", async () => {
    const { lb, url } = await start();
    lb.axios.interceptors.request.use((config) => {
      config.transitional!.clarifyTimeoutError = true;
      return config;
    });

    await request(url, { path: '/x' });
    expect(lb.axios.defaults.transitional!.clarifyTimeoutError).toBe(false);
  });

  it('gives response interceptors the response with AxiosHeaders, and forwards what they return', async () => {
    const { lb, url } = await start();
    const statuses: number[] = [];
    lb.axios.interceptors.request.use(step('ran'));
    lb.axios.interceptors.response.use((response) => {
      statuses.push(response.status);
      expect(response.headers).toBeInstanceOf(AxiosHeaders);
      return response;
    });

    const response = await request(url, { path: '/x' });
    expect(response.text).toBe('Response from server Test: a');
    expect(statuses).toEqual([200]);
  });

  it('passes a CanceledError to next(err) when an interceptor gives an aborted signal, sending nothing', async () => {
    const { lb, url, errors } = await start();
    lb.axios.interceptors.request.use((config) => {
      config.signal = AbortSignal.abort();
      return config;
    });

    const response = await request(url, { path: '/x' });
    expect(response.status).toBe(500);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(CanceledError);
    expect(upstream!.seen).toHaveLength(0);
  });

  it("refuses an app's own call made through lb.axios, sending nothing", async () => {
    const { lb } = await start();

    await expect(lb.axios.get(`${upstream!.url}/x`)).rejects.toMatchObject({ code: 'ERR_BAD_OPTION' });
    expect(upstream!.seen).toHaveLength(0);
  });
});
