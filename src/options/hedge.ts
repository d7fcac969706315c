import type { HedgeConfig } from './config';
import { DEFAULTS } from './defaults';
import { MESSAGES } from './messages';
import { fail, milliseconds, optionObject, own } from './validate';

const HEDGE_KEYS = ['delay', 'max'] as const;
const PERCENTILES = ['p90', 'p95', 'p99'] as const;

/**
 * The `hedge` option: off when absent or `false`. Only `delay` and `max` are known keys,
 * so nothing (a `methods` list, say) can widen hedging beyond bodiless GET, HEAD and
 * OPTIONS: those are the requests that are safe to send twice (RFC 9110 §9.2.1).
 */
export function parseHedge(input: unknown): HedgeConfig | undefined {
  if (input === undefined || input === false) return undefined;
  const opts = optionObject('hedge', input, HEDGE_KEYS, MESSAGES.objects.hedge);
  const delayOption = own(opts, 'delay');
  const delay = delayOption ?? DEFAULTS.hedge.delay;
  const percentile = PERCENTILES.find((name) => name === delay);
  if (percentile === undefined && typeof delay !== 'number') fail('hedge.delay', MESSAGES.hedge.delay, delay);
  const max = own(opts, 'max') ?? DEFAULTS.hedge.max;
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 3) fail('hedge.max', MESSAGES.hedge.max, max);
  return Object.freeze({
    delay: percentile ?? milliseconds('hedge.delay', delay, 1),
    max,
  });
}
