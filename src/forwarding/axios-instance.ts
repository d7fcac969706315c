import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosAdapter, type AxiosInstance, type CreateAxiosDefaults } from 'axios';
import type { AxiosBase } from '../options/config';
import { hasActive } from './axios-pipeline';

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
    // The settings options/axios.ts refuses from the user (its OWNED table): keep both in step.
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
  return hasActive(interceptors.request.handlers) || hasActive(interceptors.response.handlers) || hasHeaders(defaults.headers);
}
