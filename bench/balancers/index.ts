// The Node balancers by id. Each loads its module only when chosen, so a balancer
// process holds its own library and nothing else (peak RSS compares like with like).
import type { BuildBalancer } from './types';

export const NODE_BALANCERS: Readonly<Record<string, () => BuildBalancer>> = {
  'express-load-balance': () => (require('./express-load-balance') as typeof import('./express-load-balance')).build,
  'express-load-balance-candidate': () => (require('./express-load-balance') as typeof import('./express-load-balance')).buildCandidate,
  'express-load-balance-candidate-interceptor': () =>
    (require('./express-load-balance') as typeof import('./express-load-balance')).buildCandidateWithInterceptor,
  'express-load-balance-observed': () => (require('./express-load-balance') as typeof import('./express-load-balance')).buildObserved,
  'express-load-balance-interceptor': () =>
    (require('./express-load-balance') as typeof import('./express-load-balance')).buildWithInterceptor,
  'node-http': () => (require('./node-http') as typeof import('./node-http')).build,
  'express-node-http': () => (require('./express-node-http') as typeof import('./express-node-http')).build,
  'express-undici': () => (require('./undici-pool') as typeof import('./undici-pool')).build,
  'fastify-reply-from': () => (require('./fastify-reply-from') as typeof import('./fastify-reply-from')).build,
  'http-proxy-middleware': () => (require('./http-proxy-middleware') as typeof import('./http-proxy-middleware')).build,
  'http-proxy-middleware-keepalive': () => (require('./http-proxy-middleware') as typeof import('./http-proxy-middleware')).buildKeepAlive,
  'express-http-proxy': () => (require('./express-http-proxy') as typeof import('./express-http-proxy')).build,
  tutorial: () => (require('./tutorial') as typeof import('./tutorial')).build,
};
