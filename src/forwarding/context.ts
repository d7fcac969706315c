import type { AxiosInstance } from 'axios';
import type { AttemptLifecycle } from '../balancing/attempts';
import type { TargetSelector } from '../balancing/selection';
import type { StickySessions } from '../balancing/sticky';
import type { WaitQueue } from '../balancing/wait-queue';
import type { Clock } from '../clock';
import type { Events } from '../observability/events';
import type { AttemptTracing } from '../observability/tracing';
import type { BalancerConfig } from '../options/config';
import type { RetryBudget } from '../resilience/retry-budget';
import type { AxiosPipeline } from './axios-pipeline';
import type { Mirror } from './mirror';
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
  /** Labels each attempt's OpenTelemetry span; only when `@opentelemetry/api` is installed. */
  readonly tracing: AttemptTracing | undefined;
  /** The `mirror` option's copier, when it is on. */
  readonly mirror: Mirror | undefined;
  /** The `hedge` option, when it is on. */
  readonly hedging: Hedging | undefined;
}

/** What an exchange needs: the parts, and what follows from them. */
export interface ExchangeContext extends ForwardingParts {
  /** Sends an attempt through the interceptors on `axios`. */
  readonly pipeline: AxiosPipeline;
  /** True when nothing on `axios` (interceptors, default headers) would change a request. */
  direct(): boolean;
}
