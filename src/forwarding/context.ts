import type { AxiosInstance } from 'axios';
import type { AttemptLifecycle } from '../balancing/attempts';
import type { TargetSelector } from '../balancing/selection';
import type { StickySessions } from '../balancing/sticky';
import type { WaitQueue } from '../balancing/wait-queue';
import type { Clock } from '../clock';
import type { Events } from '../observability/events';
import type { BalancerConfig } from '../options/config';
import type { RetryBudget } from '../resilience/retry-budget';
import type { Hedging } from './hedge-policy';
import type { Deadlines } from './transport';

/** The balancer's parts that forwarding uses, built once by the balancer. */
export interface ForwardingParts {
  readonly config: BalancerConfig;
  readonly axios: AxiosInstance;
  readonly selector: TargetSelector;
  readonly lifecycle: AttemptLifecycle;
  readonly budget: RetryBudget;
  readonly events: Events;
  readonly clock: Clock;
  /** The `timeout` and `connectTimeout` options, shared with the WebSocket proxy. */
  readonly deadlines: Deadlines;
  readonly sticky: StickySessions | undefined;
  /** The `queue` option's wait queue, when it is on. */
  readonly queue: WaitQueue | undefined;
  /** The `hedge` option, when it is on. */
  readonly hedging: Hedging | undefined;
}

/** What an exchange needs: the parts, and what follows from them. */
export interface ExchangeContext extends ForwardingParts {
  /** True when nothing on `axios` (interceptors, default headers) would change a request. */
  direct(): boolean;
}
