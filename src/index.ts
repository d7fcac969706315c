export { loadBalance, type LoadBalanceMiddleware } from './load-balance';
export type {
  AxiosOption,
  CloseOptions,
  CookieRewrite,
  HealthCheckOptions,
  HedgeOptions,
  LoadBalanceOptions,
  MirrorOptions,
  OutlierDetectionOptions,
  PathRewrite,
  PathRewriteFunction,
  QueueOptions,
  ResilienceOptions,
  ResponseRewriteOptions,
  RetryAfterOptions,
  StatusPageOptions,
  StickyOptions,
  TargetInput,
} from './options/types';
export type { Target, TargetSnapshot, TargetStatus } from './balancing/target-views';
export { dnsTargets, type DnsResolver, type DnsTargets, type DnsTargetsOptions } from './options/dns-targets';
export type { BalancerStats, HedgeStats, QueueStats, TargetStats } from './observability/stats';
export type { MirrorStats } from './forwarding/mirror';
export type { LatencyPercentiles, WindowStats } from './observability/attempt-window';
export type { HashKey, Outcome, Strategy, StrategyFunction, StrategyName } from './balancing/strategies/types';
export type {
  DequeueEvent,
  ErrorEvent,
  HedgeEvent,
  Listener,
  LoadBalanceEvents,
  MirrorEvent,
  ProxyEndEvent,
  ProxyReqEvent,
  ProxyResEvent,
  RetryEvent,
  TargetHealthEvent,
} from './observability/events';
export {
  BadGatewayError,
  BadRequestError,
  GatewayTimeoutError,
  LoadBalanceError,
  NoTargetError,
  PayloadTooLargeError,
  QueueTimeoutError,
  SaturatedError,
  isLoadBalanceError,
  type LoadBalanceErrorCode,
} from './errors';
