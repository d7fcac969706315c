import { IncomingMessage, type Agent, type OutgoingHttpHeaders } from 'node:http';
import type { AxiosResponse } from 'axios';
import type { PipelineCallbacks } from './axios-pipeline';
import type { ExchangeContext } from './context';
import type { UpstreamHeaders } from './headers';
import { dispatch, type UpstreamCall } from './transport';

/** Where one request on the wire reports: the transport's callbacks, or what lb.axios's interceptors made of them. */
export type SendCallbacks = PipelineCallbacks;

/**
 * Sends `call` with `method` and `headers`: straight to the transport when nothing on
 * lb.axios would change the request, else through lb.axios's interceptors (see
 * axios-pipeline.ts) with the same transport. `relative` is the path and query relative
 * to the target's base path.
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
    const { defaults } = ctx.axios;
    const agent: unknown = target.protocol === 'https:' ? defaults.httpsAgent : defaults.httpAgent;
    dispatch(call, method, headers as OutgoingHttpHeaders, agent as Agent | undefined, done);
    return;
  }
  ctx.pipeline.send(call, method, target.url + relative, headers, done);
}

/**
 * The upstream stream in what lb.axios's response interceptors returned, or the error to
 * pass on when one returned something else (`(r) => r.data`, as apps write for their own
 * calls).
 */
export function responseStream(response: AxiosResponse): IncomingMessage | TypeError {
  const upstream = (response as Partial<AxiosResponse> | undefined)?.data as unknown;
  if (upstream instanceof IncomingMessage) return upstream;
  return new TypeError('express-load-balance: an axios response interceptor must return the response, with its data stream unread');
}
