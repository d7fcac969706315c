export { loadBalance, type LoadBalanceMiddleware } from './load-balance';
export type { LoadBalanceOptions, StickyOptions, TargetInput } from './options';
export type { Target, TargetSnapshot } from './pool';
export type { HashKey, Outcome, Strategy, StrategyFunction, StrategyName } from './strategies/types';
export type { ErrorEvent, Listener, LoadBalanceEvents, ProxyReqEvent, ProxyResEvent } from './events';
export {
  BadGatewayError,
  BadRequestError,
  GatewayTimeoutError,
  LoadBalanceError,
  NoTargetError,
  isLoadBalanceError,
  type LoadBalanceErrorCode,
} from './errors';
