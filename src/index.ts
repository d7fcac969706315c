export { loadBalance, type LoadBalanceMiddleware } from './load-balance';
export type { LoadBalanceOptions, StickyOptions, TargetInput } from './options/normalize';
export type { AxiosOption } from './forwarding/axios-instance';
export type { PathRewrite, PathRewriteFunction } from './options/path-rewrite';
export type { HealthCheckOptions, OutlierDetectionOptions, ResilienceOptions } from './options/resilience';
export type { Target, TargetSnapshot } from './balancing/pool';
export { dnsTargets, type DnsTargetsOptions } from './discovery/dns';
export type { DnsResolver, DnsTargets } from './options/dns-source';
export type { BalancerStats, TargetStats } from './observability/stats';
export type { LatencyPercentiles, WindowStats } from './observability/attempt-window';
export type { HashKey, Outcome, Strategy, StrategyFunction, StrategyName } from './balancing/strategies/types';
export type {
  ErrorEvent,
  Listener,
  LoadBalanceEvents,
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
  SaturatedError,
  isLoadBalanceError,
  type LoadBalanceErrorCode,
} from './errors';
