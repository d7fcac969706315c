import { IncomingMessage, type Agent, type OutgoingHttpHeaders } from 'node:http';
import type { AxiosRequestConfig, AxiosResponse } from 'axios';
import type { ExchangeContext } from './context';
import type { UpstreamHeaders } from './headers';
import { CALL_KEY, dispatch, type DispatchCallbacks, type UpstreamCall } from './transport';

/** Where one request on the wire reports: the transport's callbacks, or axios's settled promise. */
export interface SendCallbacks extends DispatchCallbacks {
  readonly onAxiosResponse: (response: AxiosResponse) => void;
  readonly onError: (err: unknown) => void;
}

/**
 * Sends `call` with `method` and `headers`: straight to the transport when nothing on
 * lb.axios would change the request, else through lb.axios with the same transport as its
 * adapter. `relative` is the path and query relative to the target's base path.
 */
export function sendCall(
  ctx: ExchangeContext,
  method: string,
  headers: UpstreamHeaders,
  call: UpstreamCall,
  relative: string,
  done: SendCallbacks,
): void {
  const { target } = call;
  if (ctx.direct()) {
    // Nothing on lb.axios would change the request: skip axios's config merging and
    // header normalising (about a fifth of the CPU of a small request) and send it
    // with the same transport axios would call.
    if (headers['content-type'] === false) delete headers['content-type'];
    const { defaults } = ctx.axios;
    const agent: unknown = target.protocol === 'https:' ? defaults.httpsAgent : defaults.httpAgent;
    dispatch(call, method, headers as OutgoingHttpHeaders, agent as Agent | undefined, done);
    return;
  }
  // axios adds a form Content-Type to a bodiless POST/PUT/PATCH unless the header is
  // there; a false value stops it and is itself dropped before sending.
  if (headers['content-type'] === undefined) headers['content-type'] = false;
  const config = { method, url: target.url + relative, headers, [CALL_KEY]: call };
  ctx.axios.request(config as AxiosRequestConfig).then(done.onAxiosResponse, done.onError);
}

/**
 * The upstream stream in what lb.axios resolved with, or the error to pass on when an
 * axios response interceptor returned something else (`(r) => r.data`, as apps write for
 * their own calls).
 */
export function responseStream(response: AxiosResponse): IncomingMessage | TypeError {
  const upstream = (response as Partial<AxiosResponse> | undefined)?.data as unknown;
  if (upstream instanceof IncomingMessage) return upstream;
  return new TypeError('express-load-balance: an axios response interceptor must return the response, with its data stream unread');
}
