/**
 * The default of every option, in one table: the parsers take each fallback from here,
 * and the TSDoc of each option states the same value.
 */
import type { Request } from 'express';
import { deepFreeze } from './freeze';

/**
 * The default `hashKey`: the client address as Express sees it (honours `trust proxy`).
 * A WebSocket upgrade reaches `lb.upgrade` as Node's plain request, without `req.ip`:
 * its socket peer is the address then.
 */
function clientIp(req: Request): string | undefined {
  return req.ip ?? req.socket?.remoteAddress;
}

export const DEFAULTS = deepFreeze({
  /** A target given as a URL string, or as an object without a weight. */
  target: { weight: 1, priority: 0, backupPriority: 1 },
  strategy: 'round-robin',
  hashKey: clientIp,
  /** Applies once `sticky` is given; no `secret` means a random one per balancer. */
  sticky: { cookie: 'lb_target' },
  ewmaWindow: 10_000,
  timeout: 30_000,
  keepAliveTimeout: 4_000,
  preserveHost: false,
  /** Stands for "unset": follow the app's `trust proxy` setting. */
  xForwarded: 'trust',
  maxBodySize: Infinity,
  encodedSlashes: 'keep',
  /** The response rewrites are off unless given. */
  cookieDomainRewrite: false,
  cookiePathRewrite: false,
  autoRewrite: false,
  connectTimeout: 5_000,
  retries: 2,
  /** A bare number as `retryBudget` is the ratio; `minPerSecond` keeps its default. */
  retryBudget: { ratio: 0.2, minPerSecond: 3 },
  retryBufferSize: 64 * 1024,
  retryOn: [] as readonly number[],
  /** Applies once `healthCheck` is given: active checks are off by default. */
  healthCheck: {
    path: '/health',
    interval: 5_000,
    timeout: 2_000,
    healthyThreshold: 2,
    unhealthyThreshold: 2,
    expectStatus: [200, 399] as readonly [number, number],
  },
  /** On unless `outlierDetection: false`. */
  outlierDetection: {
    consecutiveFailures: 5,
    baseEjectionTime: 30_000,
    /** A floor: the default is `baseEjectionTime` when that is larger, so the cap never shortens the first ejection. */
    maxEjectionTime: 300_000,
    maxEjectionPercent: 50,
  },
  maxInFlightPerTarget: Infinity,
  /** Off: no wait queue unless `queue` is given. */
  slowStart: 0,
  retryAfter: { max: 60_000 },
  /** Applies once `hedge` is given: hedging is off by default. */
  hedge: { delay: 'p95', max: 1 },
  dnsTargets: { interval: 10_000, protocol: 'http' },
  /** Applies once `mirror` is given: mirroring is off by default. */
  mirror: { sample: 1, maxBodySize: 1_048_576, maxInFlight: 100 },
  /** Seconds between reloads of the HTML status page. */
  statusPage: { refresh: 5 },
} as const);
