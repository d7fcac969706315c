import type { TargetState } from '../target';
import type { Strategy, StrategyContext } from './types';

/**
 * Index of a target drawn with probability proportional to its weight, leaving out
 * index `skip` (whose weight `total` must already exclude).
 */
function drawIndex(targets: readonly TargetState[], total: number, random: () => number, skip: number): number {
  let point = random() * total;
  let last = -1;
  for (let i = 0; i < targets.length; i++) {
    if (i === skip) continue;
    last = i;
    point -= targets[i]!.effectiveWeight;
    if (point < 0) return i;
  }
  // Floating-point rounding can leave `point` at (or a hair above) 0 after the last one.
  return last;
}

/**
 * The power of two choices (Mitzenmacher, 2001): draw two distinct targets at random,
 * weighted, and keep the one with the lower `cost`; on a tie, the first drawn. Nearly
 * as even as scanning every target for the least loaded, without the herd effect of
 * every balancer instance picking the same one. `cost` is a module-level function so
 * a pick creates no closure.
 */
export function pickOfTwo(
  targets: readonly TargetState[],
  random: () => number,
  cost: (target: TargetState, now: number) => number,
  now: number,
): TargetState | undefined {
  if (targets.length <= 1) return targets[0];
  let total = 0;
  for (let i = 0; i < targets.length; i++) total += targets[i]!.effectiveWeight;
  const i = drawIndex(targets, total, random, -1);
  const first = targets[i]!;
  const second = targets[drawIndex(targets, total - first.effectiveWeight, random, i)]!;
  return cost(second, now) < cost(first, now) ? second : first;
}

/** In-flight requests per unit of weight: a target of weight 2 carries twice the load. */
function inFlightPerWeight(target: TargetState): number {
  return target.inFlight / target.effectiveWeight;
}

/** Envoy's `LEAST_REQUEST` default: power of two choices on in-flight requests. */
export function powerOfTwo({ random }: StrategyContext): Strategy<TargetState> {
  return {
    pick: (targets) => pickOfTwo(targets, random, inFlightPerWeight, 0),
  };
}
