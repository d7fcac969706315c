/**
 * The internal, validated configuration: what `normalizeOptions` turns user options
 * into, frozen, every default filled in. Types only; nothing downstream re-checks it.
 */
import type { AxiosBase } from '../forwarding/axios-instance';
import type { HashKey, StrategyFactory } from '../balancing/strategies/types';
import type { DnsTargets } from './dns-source';
import type { PathRewriteFunction } from './path-rewrite';
import type { TargetSpec } from './targets';

/** {@link LoadBalanceOptions.xForwarded} after validation; `'trust'` stands for "unset". */
export type XForwardedMode = 'trust' | 'append' | 'replace' | false;

/** The internal, validated, frozen configuration. Nothing downstream re-checks it. */
export interface BalancerConfig {
  /** Empty when `discovery` finds the targets. */
  readonly targets: readonly TargetSpec[];
  readonly discovery: DnsTargets | undefined;
  readonly strategy: StrategyFactory;
  readonly hashKey: HashKey;
  readonly sticky: StickyConfig | undefined;
  readonly ewmaWindow: number;
  readonly timeout: number;
  readonly keepAliveTimeout: number;
  readonly preserveHost: boolean;
  readonly maxBodySize: number;
  /** `'trust'` when the option is unset: follow the app's `trust proxy` setting. */
  readonly xForwarded: XForwardedMode;
  readonly resilience: ResilienceConfig;
  readonly axios: AxiosBase;
  readonly pathRewrite: PathRewriteFunction | undefined;
}

/** The validated `sticky` option. */
export interface StickyConfig {
  readonly cookie: string;
  /** The user's secret, or undefined for a random one per balancer. */
  readonly secret: string | undefined;
}

/** The validated resilience settings. */
export interface ResilienceConfig {
  readonly connectTimeout: number;
  readonly retries: number;
  readonly retryBudget: { readonly ratio: number; readonly minPerSecond: number };
  readonly retryBufferSize: number;
  readonly retryOn: ReadonlySet<number>;
  readonly healthCheck: HealthCheckConfig | undefined;
  readonly outlierDetection: OutlierConfig | undefined;
  readonly maxInFlightPerTarget: number;
}

/** The validated `healthCheck` option. */
export interface HealthCheckConfig {
  /** Path probed on each target's origin (not under its base path). */
  readonly path: string;
  /** ms between probes of one target, jittered by ±10 %. */
  readonly interval: number;
  /** ms a probe may take, connection included. */
  readonly timeout: number;
  /** Passing probes in a row that bring a down target back. */
  readonly healthyThreshold: number;
  /** Failing probes in a row that take a target down. */
  readonly unhealthyThreshold: number;
  /** Inclusive range of statuses that pass. */
  readonly expectStatus: readonly [number, number];
}

/** The validated `outlierDetection` option. */
export interface OutlierConfig {
  /** Failed attempts in a row (transport failures and 5xx answers) that eject a target. */
  readonly consecutiveFailures: number;
  /** First ejection's length, ms; the n-th lasts n times as long. */
  readonly baseEjectionTime: number;
  /** Cap on an ejection's length, ms. */
  readonly maxEjectionTime: number;
  /** Never more than this share of the targets ejected at once (at least one may be). */
  readonly maxEjectionPercent: number;
}
