import type { TargetState } from '../pool';
import { consistentHash } from './consistent-hash';
import { leastConnections } from './least-connections';
import { peakEwma } from './peak-ewma';
import { powerOfTwo } from './power-of-two';
import { random } from './random';
import { roundRobin } from './round-robin';
import type { Strategy, StrategyFactory, StrategyName } from './types';

const BUILT_IN: Readonly<Record<StrategyName, StrategyFactory>> = {
  'round-robin': roundRobin,
  random,
  'least-connections': leastConnections,
  'power-of-two': powerOfTwo,
  'consistent-hash': consistentHash,
  'peak-ewma': peakEwma,
};

/** The names of the built-in strategies, in table order. */
export const STRATEGY_NAMES = Object.freeze(Object.keys(BUILT_IN) as StrategyName[]);

/** Turns the `strategy` option into a factory, or throws a TypeError naming it. */
export function strategyFactory(option: unknown): StrategyFactory {
  if (typeof option === 'string') {
    const factory = Object.hasOwn(BUILT_IN, option) ? BUILT_IN[option as StrategyName] : undefined;
    if (factory === undefined) {
      throw new TypeError(
        `express-load-balance: option "strategy" must be one of ${Object.keys(BUILT_IN).join(', ')}, a function or an object with pick(), got ${JSON.stringify(option)}`,
      );
    }
    return factory;
  }
  if (typeof option === 'function') {
    return () => checked({ pick: option as Strategy<TargetState>['pick'] });
  }
  if (typeof option === 'object' && option !== null && typeof (option as Strategy).pick === 'function') {
    return () => checked(option as Strategy<TargetState>);
  }
  throw new TypeError(
    'express-load-balance: option "strategy" must be a strategy name, a function (targets, req) => target, or an object with pick()',
  );
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
