import type { TargetState } from '../target';
import type { Strategy, StrategyContext } from './types';

/** Picks a target at random, with probability proportional to its weight. */
export function random({ random: next }: StrategyContext): Strategy<TargetState> {
  return {
    pick(targets) {
      let total = 0;
      for (let i = 0; i < targets.length; i++) total += targets[i]!.effectiveWeight;
      let point = next() * total;
      for (let i = 0; i < targets.length; i++) {
        point -= targets[i]!.effectiveWeight;
        if (point < 0) return targets[i];
      }
      // Floating-point rounding can leave `point` at exactly 0 after the last target.
      return targets[targets.length - 1];
    },
  };
}
