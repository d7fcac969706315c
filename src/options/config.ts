/**
 * The internal, validated configuration: what `normalizeOptions` turns user options
 * into, frozen, every default filled in. Types only; nothing downstream re-checks it.
 */
import type http from 'node:http';
import type https from 'node:https';
import type { AxiosInterceptorManager, InternalAxiosRequestConfig } from 'axios';
import type { TargetState } from '../balancing/target';
import type { HashKey, Strategy, StrategyFactory } from '../balancing/strategies/types';
import type { TargetSpec } from './targets';
import type { DnsTargets, LoadBalanceOptions, PathRewriteFunction } from './types';

/** {@link LoadBalanceOptions.xForwarded} after validation; `'trust'` stands for "unset". */
export type XForwardedMode = 'trust' | 'append' | 'replace' | false;

/** {@link LoadBalanceOptions.encodedSlashes} after validation. */
export type EncodedSlashesMode = NonNullable<LoadBalanceOptions['encodedSlashes']>;

/** The internal, validated, frozen configuration. Nothing downstream re-checks it. */
export interface BalancerConfig {
  /** Empty when `discovery` finds the targets. */
  readonly targets: readonly TargetSpec[];
  readonly discovery: DnsTargets | undefined;
  readonly strategy: StrategyConfig;
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
  readonly encodedSlashes: EncodedSlashesMode;
  /** Undefined unless a response rewrite option is on: then no response header is looked at. */
  readonly responseRewrites: ResponseRewriteConfig | undefined;
  /** Undefined when mirroring is off. */
  readonly mirror: MirrorConfig | undefined;
}

/** The validated response rewrite options; at least one of the three is set. */
export interface ResponseRewriteConfig {
  /** `cookieDomainRewrite`: rules for the `Domain` attribute of Set-Cookie. */
  readonly cookieDomain: CookieRewriteRules | undefined;
  /** `cookiePathRewrite`: rules for the `Path` attribute of Set-Cookie. */
  readonly cookiePath: CookieRewriteRules | undefined;
  /** `autoRewrite`, `hostRewrite`, `protocolRewrite`: for Location and Content-Location. */
  readonly location: LocationRewriteConfig | undefined;
}

/** One cookie attribute's rewrite rules. */
export interface CookieRewriteRules {
  /** Old value (lower-cased when `ignoreCase`) to new; `''` removes the attribute. */
  readonly exact: ReadonlyMap<string, string>;
  /** The `'*'` rule: the new value for any value not in `exact`. */
  readonly wildcard: string | undefined;
  readonly ignoreCase: boolean;
}

/** How a Location pointing at the answering target is rewritten. */
export interface LocationRewriteConfig {
  /** `autoRewrite`: the client-facing host and scheme. */
  readonly auto: boolean;
  /** `hostRewrite`: this host[:port], before `auto`'s. */
  readonly host: string | undefined;
  /** `protocolRewrite`: this scheme, before `auto`'s. */
  readonly protocol: 'http' | 'https' | undefined;
}

/** The validated `mirror` option. */
export interface MirrorConfig {
  /** Where copies go, in round-robin order; weights and priorities are unused. */
  readonly targets: readonly TargetSpec[];
  /** Share of requests copied, 0 to 1. */
  readonly sample: number;
  /** Largest body copied, bytes. */
  readonly maxBodySize: number;
  /** Most copies in flight at once. */
  readonly maxInFlight: number;
}

/**
 * The validated `strategy` option. Options never load strategy code: a built-in one
 * comes with its factory, taken from the table the caller gave `normalizeOptions`; a
 * custom one is the user's object, or their function as `{ pick }`, not yet wrapped
 * in the check that each pick is one of the targets (`strategyFactory()` in
 * balancing/strategies does that, once per balancer).
 */
export type StrategyConfig =
  | { readonly kind: 'built-in'; readonly name: string; readonly factory: StrategyFactory }
  | { readonly kind: 'custom'; readonly strategy: Strategy<TargetState> };

type Handlers<V> = NonNullable<AxiosInterceptorManager<V>['handlers']>;

/** The validated `axios` option: what the balancer's instance is built from. */
export interface AxiosBase {
  /** The user's defaults (an instance's `defaults`, or the config given), never mutated. */
  readonly defaults: Readonly<Record<string, unknown>>;
  /** The instance's request interceptors when `loadBalance()` was called, in their order. */
  readonly request: Readonly<Handlers<InternalAxiosRequestConfig>>;
  /** The user's agents: used, never destroyed by `close()`. */
  readonly httpAgent: http.Agent | undefined;
  readonly httpsAgent: https.Agent | undefined;
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
  /** Undefined when there is no wait queue. */
  readonly queue: QueueConfig | undefined;
  /** ms of the slow-start window; 0 when off. */
  readonly slowStart: number;
  /** Undefined when `retryAfter: false`. */
  readonly retryAfter: RetryAfterConfig | undefined;
  /** Undefined when hedging is off (the default). */
  readonly hedge: HedgeConfig | undefined;
}

/** The validated `hedge` option. */
export interface HedgeConfig {
  /** ms after the first attempt was sent, or a percentile of the last minute's attempt latency. */
  readonly delay: number | 'p90' | 'p95' | 'p99';
  /** Extra attempts at most, 1 to 3. */
  readonly max: number;
}

/** The validated `queue` option. */
export interface QueueConfig {
  readonly size: number;
  readonly timeout: number;
}

/** The validated `retryAfter` option. */
export interface RetryAfterConfig {
  /** The longest rest, ms. */
  readonly max: number;
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
