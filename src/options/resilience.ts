import type { HealthCheckConfig, OutlierConfig, QueueConfig, ResilienceConfig, RetryAfterConfig } from './config';
import { DEFAULTS } from './defaults';
import { parseHedge } from './hedge';
import { MESSAGES } from './messages';
import { fail, milliseconds, optionObject, own, ratio, wholeNumber } from './validate';

/** The keys of `ResilienceOptions`, for the unknown-option check. */
export const RESILIENCE_KEYS = [
  'connectTimeout',
  'retries',
  'retryBudget',
  'retryBufferSize',
  'retryOn',
  'healthCheck',
  'outlierDetection',
  'maxInFlightPerTarget',
  'queue',
  'slowStart',
  'retryAfter',
  'hedge',
] as const;

const QUEUE_KEYS = ['size', 'timeout'] as const;
const RETRY_AFTER_KEYS = ['max'] as const;

const HEALTH_CHECK_KEYS = ['path', 'interval', 'timeout', 'healthyThreshold', 'unhealthyThreshold', 'expectStatus'] as const;
const OUTLIER_KEYS = ['consecutiveFailures', 'baseEjectionTime', 'maxEjectionTime', 'maxEjectionPercent'] as const;
const RETRY_BUDGET_KEYS = ['ratio', 'minPerSecond'] as const;

function status(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 100 || value > 599) {
    fail(option, MESSAGES.value.status, value);
  }
  return value;
}

function parseHealthCheck(input: unknown): HealthCheckConfig | undefined {
  if (input === undefined || input === false) return undefined;
  const opts = input === true ? {} : optionObject('healthCheck', input, HEALTH_CHECK_KEYS);
  const defaults = DEFAULTS.healthCheck;
  const path = own(opts, 'path') ?? defaults.path;
  if (typeof path !== 'string' || !path.startsWith('/') || path.startsWith('//') || /[\s#]/.test(path)) {
    fail('healthCheck.path', MESSAGES.resilience.healthPath, path);
  }
  const expect = own(opts, 'expectStatus') ?? defaults.expectStatus;
  if (!Array.isArray(expect) || expect.length !== 2) fail('healthCheck.expectStatus', MESSAGES.resilience.statusRange, expect);
  const range: [number, number] = [status('healthCheck.expectStatus[0]', expect[0]), status('healthCheck.expectStatus[1]', expect[1])];
  if (range[0] > range[1]) fail('healthCheck.expectStatus', MESSAGES.resilience.statusRange, expect);
  return Object.freeze({
    path,
    interval: milliseconds('healthCheck.interval', own(opts, 'interval'), defaults.interval),
    timeout: milliseconds('healthCheck.timeout', own(opts, 'timeout'), defaults.timeout),
    healthyThreshold: wholeNumber('healthCheck.healthyThreshold', own(opts, 'healthyThreshold'), defaults.healthyThreshold, 1),
    unhealthyThreshold: wholeNumber('healthCheck.unhealthyThreshold', own(opts, 'unhealthyThreshold'), defaults.unhealthyThreshold, 1),
    expectStatus: Object.freeze(range),
  });
}

function parseOutlierDetection(input: unknown): OutlierConfig | undefined {
  if (input === false) return undefined;
  const opts = input === undefined ? {} : optionObject('outlierDetection', input, OUTLIER_KEYS);
  const defaults = DEFAULTS.outlierDetection;
  const baseEjectionTime = milliseconds('outlierDetection.baseEjectionTime', own(opts, 'baseEjectionTime'), defaults.baseEjectionTime);
  const percent = own(opts, 'maxEjectionPercent') ?? defaults.maxEjectionPercent;
  if (typeof percent !== 'number' || !(percent >= 0 && percent <= 100)) {
    fail('outlierDetection.maxEjectionPercent', MESSAGES.value.percent, percent);
  }
  const maxEjectionTime = Math.max(defaults.maxEjectionTime, baseEjectionTime);
  return Object.freeze({
    consecutiveFailures: wholeNumber(
      'outlierDetection.consecutiveFailures',
      own(opts, 'consecutiveFailures'),
      defaults.consecutiveFailures,
      1,
    ),
    baseEjectionTime,
    maxEjectionTime: milliseconds('outlierDetection.maxEjectionTime', own(opts, 'maxEjectionTime'), maxEjectionTime),
    maxEjectionPercent: percent,
  });
}

function parseRetryBudget(input: unknown): ResilienceConfig['retryBudget'] {
  const defaults = DEFAULTS.retryBudget;
  if (input === undefined || typeof input === 'number') {
    return Object.freeze({ ratio: ratio('retryBudget', input, defaults.ratio), minPerSecond: defaults.minPerSecond });
  }
  const opts = optionObject('retryBudget', input, RETRY_BUDGET_KEYS);
  if (own(opts, 'ratio') === undefined) fail('retryBudget.ratio', MESSAGES.value.required, undefined);
  const minPerSecond = own(opts, 'minPerSecond') ?? defaults.minPerSecond;
  if (typeof minPerSecond !== 'number' || !(minPerSecond >= 0) || !Number.isFinite(minPerSecond)) {
    fail('retryBudget.minPerSecond', MESSAGES.resilience.minPerSecond, minPerSecond);
  }
  return Object.freeze({ ratio: ratio('retryBudget.ratio', own(opts, 'ratio'), defaults.ratio), minPerSecond });
}

/** Validates the resilience options of `opts` (already checked for unknown keys). */
export function parseResilience(opts: Record<string, unknown>): ResilienceConfig {
  const retryOn = own(opts, 'retryOn') ?? DEFAULTS.retryOn;
  if (!Array.isArray(retryOn)) fail('retryOn', MESSAGES.resilience.retryOn, retryOn);
  return Object.freeze({
    connectTimeout: milliseconds('connectTimeout', own(opts, 'connectTimeout'), DEFAULTS.connectTimeout),
    retries: wholeNumber('retries', own(opts, 'retries'), DEFAULTS.retries, 0),
    retryBudget: parseRetryBudget(own(opts, 'retryBudget')),
    retryBufferSize: wholeNumber('retryBufferSize', own(opts, 'retryBufferSize'), DEFAULTS.retryBufferSize, 0),
    retryOn: new Set(retryOn.map((code, i) => status(`retryOn[${i}]`, code))),
    healthCheck: parseHealthCheck(own(opts, 'healthCheck')),
    outlierDetection: parseOutlierDetection(own(opts, 'outlierDetection')),
    maxInFlightPerTarget: wholeNumber('maxInFlightPerTarget', own(opts, 'maxInFlightPerTarget'), DEFAULTS.maxInFlightPerTarget, 1, true),
    queue: parseQueue(own(opts, 'queue')),
    slowStart: parseSlowStart(own(opts, 'slowStart')),
    retryAfter: parseRetryAfter(own(opts, 'retryAfter')),
    hedge: parseHedge(own(opts, 'hedge')),
  });
}

function parseQueue(input: unknown): QueueConfig | undefined {
  if (input === undefined) return undefined;
  const opts = optionObject('queue', input, QUEUE_KEYS);
  for (const key of QUEUE_KEYS) if (own(opts, key) === undefined) fail(`queue.${key}`, MESSAGES.value.required, undefined);
  return Object.freeze({
    size: wholeNumber('queue.size', own(opts, 'size'), 1, 1),
    timeout: milliseconds('queue.timeout', own(opts, 'timeout'), 1),
  });
}

/** 0 (off) or a window in ms. */
function parseSlowStart(input: unknown): number {
  if (input === 0) return 0;
  return milliseconds('slowStart', input, DEFAULTS.slowStart);
}

function parseRetryAfter(input: unknown): RetryAfterConfig | undefined {
  if (input === false) return undefined;
  const opts = input === undefined ? {} : optionObject('retryAfter', input, RETRY_AFTER_KEYS);
  return Object.freeze({ max: milliseconds('retryAfter.max', own(opts, 'max'), DEFAULTS.retryAfter.max) });
}
