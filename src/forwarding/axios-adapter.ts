import type { AxiosAdapter, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { AxiosError } from 'axios';

/**
 * The adapter of `lb.axios`: it refuses every request. The balancer never calls
 * `lb.axios.request()` (it runs the interceptors itself, see axios-pipeline.ts, and
 * sends with its transport), so a request that reaches an adapter was made by an app
 * through `lb.axios` for its own purposes: axios's own adapter would send it with the
 * balancer's settings (a stream body, every status resolved, no redirects), which
 * suits a proxy hop and no ordinary call. Use an instance of your own for those.
 */
export function createAdapter(): AxiosAdapter {
  return (config: InternalAxiosRequestConfig) =>
    Promise.reject<AxiosResponse>(
      new AxiosError(
        "express-load-balance: lb.axios only carries the balancer's requests; make your own calls with an axios instance of your own",
        AxiosError.ERR_BAD_OPTION,
        config,
      ),
    );
}
