import type { HealthCheckConfig, OutlierConfig, ResilienceConfig } from './config';
import { fail, milliseconds, optionObject, own, ratio, wholeNumber } from './validate';

/**
 * The `healthCheck` option: active probes of every target.
 * @public
 */
export interface HealthCheckOptions {
  /** Path probed on each target's origin (not under its base path). Default `'/health'`. */
  path?: string;
  /** ms between probes of one target, jittered by ±10 %. Default 5 000. */
  interval?: number;
  /** ms a probe may take, connection included. Default 2 000. */
  timeout?: number;
  /** Passing probes in a row that bring a down target back. Default 2. */
  healthyThreshold?: number;
  /** Failing probes in a row that take a target down. Default 2. */
  unhealthyThreshold?: number;
  /** Inclusive range of statuses that pass. Default `[200, 399]`. */
  expectStatus?: readonly [number, number];
}

/**
 * The `outlierDetection` option: passive health checking from live traffic.
 * @public
 */
export interface OutlierDetectionOptions {
  /** Failed attempts in a row (no connection, reset, timeout, or a 5xx answer) that eject a target. Default 5. */
  consecutiveFailures?: number;
  /** ms of the first ejection; the n-th lasts n times as long. Default 30 000. */
  baseEjectionTime?: number;
  /** ms cap on one ejection. Default 300 000 (or `baseEjectionTime`, if larger). */
  maxEjectionTime?: number;
  /** Never more than this percentage of the targets ejected at once (one may always be). Default 50. */
  maxEjectionPercent?: number;
}

/**
 * The options of {@link LoadBalanceOptions} that decide what happens when upstreams fail.
 * @public
 */
export interface ResilienceOptions {
  /** ms to establish a TCP connection to a target; then the next target is tried. Default 5 000. */
  connectTimeout?: number;
  /** Extra attempts on other targets after a failure, within the rules of "Failure handling". Default 2. */
  retries?: number;
  /**
   * Retries may add at most this share of the request rate, plus `minPerSecond` (default
   * 3) retries a second, over a 10 s window (Linkerd's retry budget). Default 0.2.
   */
  retryBudget?:
    | number
    | {
        /** Retries allowed as a share of the request rate, from 0 to 1. */
        ratio: number;
        /** Retries a second allowed on top of the ratio. Default 3. */
        minPerSecond?: number;
      };
  /** Request bodies up to this many bytes are kept so they can be replayed on a retry. Default 65 536. */
  retryBufferSize?: number;
  /** Upstream statuses that count as a failed attempt to retry (idempotent methods only), e.g. `[502, 503, 504]`. Default none. */
  retryOn?: readonly number[];
  /** Active health checks: `true` for the defaults, or settings. Default off. */
  healthCheck?: boolean | HealthCheckOptions;
  /** Outlier detection: on by default; `false` turns it off. */
  outlierDetection?: false | OutlierDetectionOptions;
  /** Requests one target may hold at once; when every usable target is full, a 503 with Retry-After at once. Default Infinity. */
  maxInFlightPerTarget?: number;
}

/** The keys of {@link ResilienceOptions}, for the unknown-option check. */
export const RESILIENCE_KEYS = [
  'connectTimeout',
  'retries',
  'retryBudget',
  'retryBufferSize',
  'retryOn',
  'healthCheck',
  'outlierDetection',
  'maxInFlightPerTarget',
] as const;

function status(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 100 || value > 599) {
    fail(option, 'must be an HTTP status code (100-599)', value);
  }
  return value;
}

function parseHealthCheck(input: unknown): HealthCheckConfig | undefined {
  if (input === undefined || input === false) return undefined;
  const opts =
    input === true
      ? {}
      : optionObject('healthCheck', input, ['path', 'interval', 'timeout', 'healthyThreshold', 'unhealthyThreshold', 'expectStatus']);
  const path = own(opts, 'path') ?? '/health';
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || /[\s#]/.test(path)) {
    fail('healthCheck.path', 'must be a path starting with a single "/"', path);
  }
  const expect = own(opts, 'expectStatus') ?? [200, 399];
  if (!Array.isArray(expect) || expect.length !== 2) fail('healthCheck.expectStatus', 'must be [lowest, highest]', expect);
  const range: [number, number] = [status('healthCheck.expectStatus[0]', expect[0]), status('healthCheck.expectStatus[1]', expect[1])];
  if (range[0] > range[1]) fail('healthCheck.expectStatus', 'must be [lowest, highest]', expect);
  return Object.freeze({
    path,
    interval: milliseconds('healthCheck.interval', own(opts, 'interval'), 5_000),
    timeout: milliseconds('healthCheck.timeout', own(opts, 'timeout'), 2_000),
    healthyThreshold: wholeNumber('healthCheck.healthyThreshold', own(opts, 'healthyThreshold'), 2, 1),
    unhealthyThreshold: wholeNumber('healthCheck.unhealthyThreshold', own(opts, 'unhealthyThreshold'), 2, 1),
    expectStatus: Object.freeze(range),
  });
}

function parseOutlierDetection(input: unknown): OutlierConfig | undefined {
  if (input === false) return undefined;
  const opts =
    input === undefined
      ? {}
      : optionObject('outlierDetection', input, ['consecutiveFailures', 'baseEjectionTime', 'maxEjectionTime', 'maxEjectionPercent']);
  const baseEjectionTime = milliseconds('outlierDetection.baseEjectionTime', own(opts, 'baseEjectionTime'), 30_000);
  const percent = own(opts, 'maxEjectionPercent') ?? 50;
  if (typeof percent !== 'number' || !(percent >= 0 && percent <= 100)) {
    fail('outlierDetection.maxEjectionPercent', 'must be a number from 0 to 100', percent);
  }
  return Object.freeze({
    consecutiveFailures: wholeNumber('outlierDetection.consecutiveFailures', own(opts, 'consecutiveFailures'), 5, 1),
    baseEjectionTime,
    maxEjectionTime: milliseconds('outlierDetection.maxEjectionTime', own(opts, 'maxEjectionTime'), Math.max(300_000, baseEjectionTime)),
    maxEjectionPercent: percent,
  });
}

function parseRetryBudget(input: unknown): ResilienceConfig['retryBudget'] {
  if (input === undefined || typeof input === 'number') {
    return Object.freeze({ ratio: ratio('retryBudget', input, 0.2), minPerSecond: 3 });
  }
  const opts = optionObject('retryBudget', input, ['ratio', 'minPerSecond']);
  if (own(opts, 'ratio') === undefined) fail('retryBudget.ratio', 'is required', undefined);
  const minPerSecond = own(opts, 'minPerSecond') ?? 3;
  if (typeof minPerSecond !== 'number' || !(minPerSecond >= 0) || !Number.isFinite(minPerSecond)) {
    fail('retryBudget.minPerSecond', 'must be a finite number of at least 0', minPerSecond);
  }
  return Object.freeze({ ratio: ratio('retryBudget.ratio', own(opts, 'ratio'), 0.2), minPerSecond });
}

/** Validates the resilience options of `opts` (already checked for unknown keys). */
export function parseResilience(opts: Record<string, unknown>): ResilienceConfig {
  const retryOn = own(opts, 'retryOn') ?? [];
  if (!Array.isArray(retryOn)) fail('retryOn', 'must be an array of HTTP status codes', retryOn);
  const maxInFlight = own(opts, 'maxInFlightPerTarget');
  return Object.freeze({
    connectTimeout: milliseconds('connectTimeout', own(opts, 'connectTimeout'), 5_000),
    retries: wholeNumber('retries', own(opts, 'retries'), 2, 0),
    retryBudget: parseRetryBudget(own(opts, 'retryBudget')),
    retryBufferSize: wholeNumber('retryBufferSize', own(opts, 'retryBufferSize'), 64 * 1024, 0),
    retryOn: new Set(retryOn.map((code, i) => status(`retryOn[${i}]`, code))),
    healthCheck: parseHealthCheck(own(opts, 'healthCheck')),
    outlierDetection: parseOutlierDetection(own(opts, 'outlierDetection')),
    maxInFlightPerTarget: maxInFlight === undefined ? Infinity : wholeNumber('maxInFlightPerTarget', maxInFlight, Infinity, 1, true),
  });
}
