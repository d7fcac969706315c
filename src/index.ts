export { loadBalance, type LoadBalanceMiddleware } from './load-balance';
export type { LoadBalanceOptions, StickyOptions, TargetInput } from './options';
export type { AxiosOption } from './axios-options';
export type { PathRewrite, PathRewriteFunction } from './path-rewrite';
export type { HealthCheckOptions, OutlierDetectionOptions, ResilienceOptions } from './resilience-options';
export type { Target, TargetSnapshot } from './pool';
export { dnsTargets, type DnsTargetsOptions } from './discovery/dns';
export type { DnsResolver, DnsTargets } from './discovery/source';
export type { BalancerStats, TargetStats } from './stats';
export type { LatencyPercentiles, WindowStats } from './attempt-window';
export type { HashKey, Outcome, Strategy, StrategyFunction, StrategyName } from './strategies/types';
export type {
  ErrorEvent,
  Listener,
  LoadBalanceEvents,
  ProxyEndEvent,
  ProxyReqEvent,
  ProxyResEvent,
  RetryEvent,
  TargetHealthEvent,
} from './events';
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
