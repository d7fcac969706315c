import http from 'node:http';
import https from 'node:https';
import axios, {
  type AxiosAdapter,
  type AxiosInstance,
  type AxiosInterceptorManager,
  type CreateAxiosDefaults,
  type InternalAxiosRequestConfig,
} from 'axios';
import { fail, own } from '../options/validate';

/**
 * The `axios` option: an axios instance, or the config of one, that the balancer's own
 * instance starts from.
 * @public
 */
export type AxiosOption = AxiosInstance | CreateAxiosDefaults;

type Handlers<V> = NonNullable<AxiosInterceptorManager<V>['handlers']>;

/** The validated `axios` option: what the balancer's instance is built from. */
export interface AxiosBase {
  /** The user's defaults (an instance's `defaults`, or the config given), never mutated. */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** The instance's request interceptors when `loadBalance()` was called, in their order. */
  readonly request: Readonly<Handlers<InternalAxiosRequestConfig>>;
  /** The user's agents: used, never destroyed by `close()`. */
  readonly httpAgent: http.Agent | undefined;
  readonly httpsAgent: https.Agent | undefined;
}

/**
 * Settings the balancer owns, with the value it sets. Each is what makes a proxy hop
 * transparent: the body stays a stream (`responseType`), every status and redirect goes
 * back to the client as the upstream sent it (`validateStatus`, `maxRedirects`), bytes
 * are not decoded or re-encoded (`decompress`, `transform*`), and the adapter is the
 * one that takes host and port from the chosen target (see transport.ts). A user value
 * that differs from both axios's default and ours would be silently overridden, so it
 * is refused instead.
 */
const OWNED: ReadonlyArray<readonly [key: string, ours: unknown, why: string]> = [
  ['adapter', undefined, 'must be left unset: upstream requests go through the balancer\'s own adapter, which takes host and port from the chosen target'],
  ['responseType', 'stream', "must be unset or 'stream': responses are streamed to the client"],
  ['maxRedirects', 0, 'must be unset or 0: redirects go back to the client'],
  ['decompress', false, 'must be unset or false: bodies are forwarded as the upstream encoded them'],
  ['validateStatus', null, 'must be unset or null: every upstream status is forwarded'],
  ['transformRequest', [], 'must be unset or []: bodies are forwarded byte for byte'],
  ['transformResponse', [], 'must be unset or []: bodies are forwarded byte for byte'],
  ['maxContentLength', Infinity, 'must be unset: bodies are streamed, not buffered'],
  ['maxBodyLength', Infinity, 'must be unset: bodies are streamed, not buffered'],
  ['timeout', 0, "must be unset: use loadBalance's timeout and connectTimeout options"],
  // Axios's own Node adapter speaks HTTP proxies; the balancer's adapter connects to the
  // target directly, and falling back to axios's adapter would bring back URL parsing,
  // redirects and decompression on the hop. Refused rather than silently ignored.
  ['proxy', false, 'must be unset or false: the balancer connects to its targets directly'],
  // The upstream URL is the target plus the client's path, built by the balancer.
  ['baseURL', undefined, 'must be left unset: the target decides where requests go'],
  ['params', undefined, "must be left unset: the client's query string is forwarded as it is"],
  ['socketPath', undefined, 'must be left unset: the target decides where requests go'],
  ['auth', undefined, 'must be left unset: set an Authorization header (headers.common) or in an interceptor'],
];

function sameSetting(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // axios copies arrays (adapter, transform*) into each instance's defaults.
  return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => item === b[i]);
}

function isInstance(value: object): value is AxiosInstance {
  const candidate = value as Partial<AxiosInstance>;
  return typeof candidate.request === 'function' && typeof candidate.defaults === 'object' && typeof candidate.interceptors === 'object';
}

/** Checks the `axios` option once; throws a TypeError naming `axios.<setting>`. */
export function parseAxiosOption(input: unknown): AxiosBase {
  if (input === undefined) return { defaults: {}, request: [], httpAgent: undefined, httpsAgent: undefined };
  if ((typeof input !== 'object' && typeof input !== 'function') || input === null || Array.isArray(input)) {
    fail('axios', 'must be an axios instance or an axios config object', input);
  }
  const instance = isInstance(input) ? input : undefined;
  if (instance === undefined && typeof input === 'function') fail('axios', 'must be an axios instance or an axios config object', input);
  const defaults = (instance?.defaults ?? input) as Record<string, unknown>;
  const libraryDefaults = axios.defaults as unknown as Record<string, unknown>;
  for (const [key, ours, why] of OWNED) {
    const value = own(defaults, key);
    if (value === undefined || sameSetting(value, ours) || sameSetting(value, libraryDefaults[key])) continue;
    fail(`axios.${key}`, why, value);
  }
  const httpAgent = own(defaults, 'httpAgent');
  if (httpAgent !== undefined && !(httpAgent instanceof http.Agent)) fail('axios.httpAgent', 'must be an http.Agent', httpAgent);
  const httpsAgent = own(defaults, 'httpsAgent');
  if (httpsAgent !== undefined && !(httpsAgent instanceof https.Agent)) fail('axios.httpsAgent', 'must be an https.Agent', httpsAgent);
  return Object.freeze({
    defaults,
    // `handlers` holds null where an interceptor was ejected.
    request: Object.freeze((instance?.interceptors.request.handlers ?? []).filter((h) => h !== null)),
    httpAgent,
    httpsAgent,
  });
}

/**
 * The balancer's axios instance: the user's defaults, then the settings the balancer
 * owns, then copies of the user's request interceptors.
 *
 * A new instance rather than the user's own: setting our owned defaults (a stream
 * response, no redirects, every status resolved, our adapter) on an instance the app
 * also uses for its own calls would break those calls. Request interceptors (signing,
 * tracing headers) are copied when `loadBalance()` runs; later ones go on `lb.axios`.
 * Response interceptors are not: an app's instance typically has ones that unwrap
 * `data` or throw on error statuses, which would leave a proxy hop nothing to forward.
 */
export function createAxios(base: AxiosBase, adapter: AxiosAdapter, httpAgent: http.Agent, httpsAgent: https.Agent): AxiosInstance {
  const instance = axios.create({
    ...(base.defaults as CreateAxiosDefaults),
    adapter,
    httpAgent,
    httpsAgent,
    responseType: 'stream',
    maxRedirects: 0,
    decompress: false,
    validateStatus: null,
    transformRequest: [],
    transformResponse: [],
    maxBodyLength: Infinity,
    maxContentLength: Infinity,
    timeout: 0,
    proxy: false,
  });
  // Forward the client's Accept, not axios's default; one the user set is theirs to keep.
  const common = instance.defaults.headers.common;
  if (common.Accept === axios.defaults.headers.common.Accept) delete common.Accept;
  for (const h of base.request) {
    instance.interceptors.request.use(h.fulfilled, h.rejected, { synchronous: h.synchronous, runWhen: h.runWhen ?? null });
  }
  return instance;
}

/** Whether an axios interceptor list holds any (ejected ones are left as null). */
function hasActive(handlers: ReadonlyArray<unknown> | undefined): boolean {
  if (handlers === undefined) return false;
  for (let i = 0; i < handlers.length; i++) if (handlers[i] !== null) return true;
  return false;
}

/**
 * Whether axios defaults carry any header: at the top level, or in `common` or a
 * per-method group. axios's own defaults carry none once Accept is removed (its
 * `Content-Type: undefined` is no header), so any found was set by the user.
 */
function hasHeaders(headers: Record<string, unknown>): boolean {
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'object') return true;
    for (const name in value as Record<string, unknown>) {
      if ((value as Record<string, unknown>)[name] !== undefined) return true;
    }
  }
  return false;
}

/**
 * Whether sending a request through `instance` could change it: an interceptor, or a
 * default header, on it. When not, the balancer skips axios's pipeline (config merging
 * and header normalising, about a fifth of a small request's CPU) and calls the same
 * transport directly. Checked per request, so changes made while running count.
 */
export function axiosChangesRequests(instance: AxiosInstance): boolean {
  const { interceptors, defaults } = instance;
  return (
    hasActive(interceptors.request.handlers) ||
    hasActive(interceptors.response.handlers) ||
    hasHeaders(defaults.headers as unknown as Record<string, unknown>)
  );
}
