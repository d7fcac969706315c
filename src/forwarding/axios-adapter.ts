import type http from 'node:http';
import type { AxiosAdapter, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { AxiosError } from 'axios';
import { CALL_KEY, dispatch, type UpstreamCall } from './transport';

/**
 * The balancer's axios adapter: {@link dispatch} behind axios's `adapter` option, so a
 * request that goes through axios (when `lb.axios` has interceptors or default headers)
 * still takes host and port from the target. Axios's default Node adapter would
 * re-parse the URL, add default headers, wrap redirects and decompression; a proxy hop
 * needs none of that.
 */
export function createAdapter(): AxiosAdapter {
  return (config: InternalAxiosRequestConfig) =>
    new Promise<AxiosResponse>((resolve, reject) => {
      const call = (config as unknown as Record<string, UpstreamCall | undefined>)[CALL_KEY];
      if (call === undefined) {
        reject(new AxiosError('express-load-balance: request has no target', AxiosError.ERR_BAD_OPTION, config));
        return;
      }
      const agent: unknown = call.target.protocol === 'https:' ? config.httpsAgent : config.httpAgent;
      dispatch(
        call,
        (config.method ?? 'get').toUpperCase(),
        config.headers.toJSON(),
        agent as http.Agent | undefined,
        {
          onResponse: (upstream) =>
            resolve({
              data: upstream,
              status: upstream.statusCode ?? 0,
              statusText: upstream.statusMessage ?? '',
              headers: upstream.headers as AxiosResponse['headers'],
              config,
              request: call.request,
            }),
          onError: reject,
        },
        config,
      );
    });
}
