import type http from 'node:http';
import {
  AxiosHeaders,
  CanceledError,
  type AxiosInstance,
  type AxiosInterceptorHandler,
  type AxiosResponse,
  type InternalAxiosRequestConfig,
} from 'axios';
import { CALL_KEY, dispatch, type DispatchCallbacks, type TransportError, type UpstreamCall } from './transport';
import type { UpstreamHeaders } from './headers';

/** Where the pipeline's outcome goes: an answer from upstream, or an error from the transport or an interceptor. */
export interface PipelineCallbacks extends DispatchCallbacks {
  /** What the response interceptors made of the response: the exchange checks it still carries the stream. */
  onAxiosResponse(response: AxiosResponse): void;
  onError(error: unknown): void;
}

type RequestHandler = AxiosInterceptorHandler<InternalAxiosRequestConfig>;
type Config = InternalAxiosRequestConfig & Record<string, unknown>;
type Step = ((value: unknown) => unknown) | null | undefined;
/** One attempt on its way through the pipeline. */
interface Attempt {
  readonly call: UpstreamCall;
  readonly done: PipelineCallbacks;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';

/**
 * Sends one attempt through `lb.axios`'s interceptors without `axios.request()`.
 *
 * axios spends most of a proxied request's client-side CPU on work a proxy hop does not
 * need: merging the request config against its defaults key by key with
 * prototype-pollution guards, normalising every header twice, flattening the
 * per-method header groups, a promise hop per step, transform passes that do nothing
 * for a stream, and wrapping the response headers. This runs the same interceptors with
 * the same rules (axios 1.x `Axios._request`): request interceptors last-added first
 * (axios's default `legacyInterceptorReqResOrdering`), `runWhen` honoured, a
 * `synchronous: true` chain run in one go and any other chain with promise semantics
 * (what one step throws goes to the next step's `onRejected`), then the response
 * interceptors in order. Interceptors see a normal config: axios's defaults copied in,
 * `method` in lower case, `url`, and `headers` as an `AxiosHeaders` they may change.
 * Errors are the transport's `AxiosError`s, or what an interceptor threw.
 *
 * Promises are only made when an interceptor returns one or response interceptors are
 * set: a synchronous interceptor costs a function call.
 */
export class AxiosPipeline {
  constructor(
    private readonly instance: AxiosInstance,
    /** The transport; a parameter so the benchmark can time the pipeline alone. */
    private readonly transport: typeof dispatch = dispatch,
  ) {}

  send(call: UpstreamCall, method: string, url: string, headers: UpstreamHeaders, done: PipelineCallbacks): void {
    const config = this.configFor(method, url, headers, call);
    const handlers = this.instance.interceptors.request.handlers;
    const chain: RequestHandler[] = [];
    let synchronous = true;
    if (handlers !== undefined) {
      const transitional = (config.transitional ?? { legacyInterceptorReqResOrdering: true }) as {
        legacyInterceptorReqResOrdering?: boolean;
      };
      const lastFirst = transitional.legacyInterceptorReqResOrdering === true;
      for (const handler of handlers) {
        // Ejected interceptors stay in the list as null.
        if (handler === null || handler === undefined) continue;
        if (typeof handler.runWhen === 'function' && handler.runWhen(config) === false) continue;
        synchronous &&= handler.synchronous;
        if (lastFirst) chain.unshift(handler);
        else chain.push(handler);
      }
    }
    const attempt: Attempt = { call, done };
    if (synchronous) this.runSynchronous(chain, config, attempt);
    else this.runChained(chain, 0, { ok: true, value: config }, attempt);
  }

  /**
   * A copy of axios's defaults with this request's method, url and headers, as
   * `mergeConfig(defaults, config)` would give an interceptor. Plain objects among the
   * defaults are copied one level deep, so an interceptor changing `config.params.x`
   * changes this request only.
   */
  private configFor(method: string, url: string, headers: UpstreamHeaders, call: UpstreamCall): Config {
    const { defaults } = this.instance;
    const config = {} as Config;
    for (const key in defaults) {
      if (key === 'headers') continue;
      const value = (defaults as Record<string, unknown>)[key];
      config[key] = isPlainObject(value) ? { ...value } : value;
    }
    const lower = method.toLowerCase();
    config.method = lower;
    config.url = url;
    config.allowAbsoluteUrls ??= true;
    config.headers = requestHeaders(defaults.headers, lower, headers);
    config[CALL_KEY] = call;
    return config;
  }

  /** All request interceptors asked for `synchronous: true`: axios runs them in one loop, each `onRejected` catching its own `onFulfilled`. */
  private runSynchronous(chain: readonly RequestHandler[], config: Config, attempt: Attempt): void {
    const { done } = attempt;
    let current = config;
    for (const { fulfilled, rejected } of chain) {
      try {
        current = (fulfilled as Step)?.(current) as Config;
      } catch (error) {
        if (rejected === undefined || rejected === null) return done.onError(error);
        let recovered: unknown;
        try {
          recovered = rejected(error);
        } catch (rejectedError) {
          return done.onError(rejectedError);
        }
        // As axios does: the request goes on with the config as it was before the step that threw.
        if (isThenable(recovered))
          recovered.then(
            () => this.dispatch(current, attempt),
            (e: unknown) => done.onError(e),
          );
        else this.dispatch(current, attempt);
        return;
      }
    }
    this.dispatch(current, attempt);
  }

  /**
   * Any other chain: `Promise.resolve(config).then(f1, r1).then(f2, r2)…` as axios
   * builds it, run without promises as long as no step returns one.
   */
  private runChained(
    chain: readonly RequestHandler[],
    from: number,
    state: { ok: true; value: unknown } | { ok: false; error: unknown },
    attempt: Attempt,
  ): void {
    let current = state;
    for (let i = from; i < chain.length; i++) {
      const { fulfilled, rejected } = chain[i]!;
      const step: Step = current.ok ? (fulfilled as Step) : (rejected as Step);
      if (step === undefined || step === null) continue;
      let result: unknown;
      try {
        result = step(current.ok ? current.value : current.error);
      } catch (error) {
        current = { ok: false, error };
        continue;
      }
      if (isThenable(result)) {
        Promise.resolve(result).then(
          (value) => this.runChained(chain, i + 1, { ok: true, value }, attempt),
          (error: unknown) => this.runChained(chain, i + 1, { ok: false, error }, attempt),
        );
        return;
      }
      current = { ok: true, value: result };
    }
    if (current.ok) this.dispatch(current.value as Config, attempt);
    else attempt.done.onError(current.error);
  }

  /** What axios's dispatchRequest and our adapter do for a proxy hop: cancellation, headers, agent, the transport. */
  private dispatch(config: Config, { call, done }: Attempt): void {
    try {
      config.cancelToken?.throwIfRequested();
      if ((config.signal as AbortSignal | undefined)?.aborted === true) throw new CanceledError(undefined, undefined, config);
    } catch (error) {
      done.onError(error);
      return;
    }
    const agent: unknown = call.target.protocol === 'https:' ? config.httpsAgent : config.httpAgent;
    const method = typeof config.method === 'string' ? config.method.toUpperCase() : 'GET';
    const responses = this.instance.interceptors.response.handlers;
    if (!hasActive(responses)) {
      this.transport(call, method, outgoingHeaders(config.headers), agent as http.Agent | undefined, done, config);
      return;
    }
    const answer = new Promise<AxiosResponse>((resolve, reject: (error: TransportError) => void) => {
      this.transport(
        call,
        method,
        outgoingHeaders(config.headers),
        agent as http.Agent | undefined,
        {
          onResponse: (upstream) =>
            resolve({
              data: upstream,
              status: upstream.statusCode ?? 0,
              statusText: upstream.statusMessage ?? '',
              headers: AxiosHeaders.from(upstream.headers as Record<string, string>),
              config,
              request: call.request,
            }),
          onError: reject,
        },
        config,
      );
    });
    let chained: Promise<unknown> = answer;
    for (const handler of responses!) {
      if (handler !== null && handler !== undefined) chained = chained.then(handler.fulfilled as Step, handler.rejected as Step);
    }
    chained.then(
      (response) => done.onAxiosResponse(response as AxiosResponse),
      (error: unknown) => done.onError(error),
    );
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Whether an axios interceptor list holds any (ejected ones are left as null). */
export function hasActive(handlers: ReadonlyArray<unknown> | undefined): boolean {
  if (handlers === undefined) return false;
  for (let i = 0; i < handlers.length; i++) if (handlers[i] !== null) return true;
  return false;
}

/**
 * The request's headers as an `AxiosHeaders`: axios's default headers (top level,
 * `common`, then the method's group, as axios flattens them), then the client's,
 * which win.
 */
function requestHeaders(
  defaults: Record<string, unknown> | undefined,
  method: string,
  own: UpstreamHeaders,
): InstanceType<typeof AxiosHeaders> {
  const headers = new AxiosHeaders();
  if (defaults !== undefined) {
    // axios's order: `common`, the method's group, then headers set on `defaults.headers` itself.
    setDefined(headers, defaults.common);
    setDefined(headers, defaults[method]);
    for (const key in defaults) {
      const value = defaults[key];
      if (value !== undefined && value !== null && typeof value !== 'object') headers.set(key, value as string);
    }
  }
  const target = headers as unknown as Record<string, unknown>;
  const empty = isEmpty(target);
  for (const name in own) {
    const value = own[name];
    if (value === false || value === undefined) continue;
    // The client's names are already lower-case and valid (Node parsed them): stored as
    // AxiosHeaders stores them. Its prototype maps names of its methods (`set`, `toJSON`)
    // to other cases on assignment; only `__proto__` needs its set().
    if (empty && name !== '__proto__') target[name] = value;
    else headers.set(name, value, true);
  }
  return headers;
}

/** Sets the headers of a defaults group that have a value: axios's own groups hold `Content-Type: undefined`. */
function setDefined(headers: InstanceType<typeof AxiosHeaders>, group: unknown): void {
  if (typeof group !== 'object' || group === null) return;
  for (const [name, value] of Object.entries(group)) if (value !== undefined && value !== null) headers.set(name, value as string);
}

function isEmpty(object: Record<string, unknown>): boolean {
  for (const key in object) if (Object.prototype.hasOwnProperty.call(object, key)) return false;
  return true;
}

/** The headers to send, from what the interceptors left: `AxiosHeaders`, or a plain object one put in its place. */
function outgoingHeaders(headers: unknown): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  if (typeof headers !== 'object' || headers === null) return out;
  const source = headers as Record<string, unknown>;
  for (const name of Object.keys(source)) {
    const value = source[name];
    if (value === null || value === undefined || value === false || typeof value === 'function') continue;
    out[name] = value as string | string[];
  }
  return out;
}
