import type { TargetState } from '../target';
import { consistentHash } from './consistent-hash';
import { leastConnections } from './least-connections';
import { peakEwma } from './peak-ewma';
import { powerOfTwo } from './power-of-two';
import { random } from './random';
import { roundRobin } from './round-robin';
import type { StrategyConfig } from '../../options/config';
import type { Strategy, StrategyFactory, StrategyName } from './types';

/**
 * The built-in strategies by name. loadBalance() hands this table to normalizeOptions,
 * which checks the `strategy` option against it without loading strategy code itself.
 */
export const STRATEGIES: Readonly<Record<StrategyName, StrategyFactory>> = Object.freeze({
  'round-robin': roundRobin,
  random,
  'least-connections': leastConnections,
  'power-of-two': powerOfTwo,
  'consistent-hash': consistentHash,
  'peak-ewma': peakEwma,
});

/** The names of the built-in strategies, in table order. */
export const STRATEGY_NAMES = Object.freeze(Object.keys(STRATEGIES) as StrategyName[]);

/**
 * The factory of a validated `strategy` option (or of a built-in strategy's name): a
 * built-in one as it is, a custom one behind the check of its picks.
 */
export function strategyFactory(strategy: StrategyConfig | StrategyName): StrategyFactory {
  if (typeof strategy === 'string') return STRATEGIES[strategy];
  if (strategy.kind === 'built-in') return strategy.factory;
  const custom = strategy.strategy;
  return () => checked(custom);
}

/**
 * A custom strategy's pick must return one of the targets it was given: anything else
 * (a copy, a URL) is a bug in it, reported as such rather than sent somewhere.
 */
function checked(custom: Strategy<TargetState>): Strategy<TargetState> {
  return {
    pick(targets, req) {
      const target = custom.pick(targets, req);
      if (target !== undefined && !targets.includes(target)) {
        throw new TypeError('express-load-balance: the custom strategy returned a target that is not one of those it was given');
      }
      return target;
    },
    onStart: custom.onStart?.bind(custom),
    onEnd: custom.onEnd?.bind(custom),
  };
}
