import type { TargetState } from '../target';
import { pickOfTwo } from './power-of-two';
import type { Strategy, StrategyContext } from './types';

/**
 * Cost of a target with in-flight requests but no response time yet. Finagle uses a
 * huge constant so a new, unmeasured target takes one request at a time until its
 * first answer tells how fast it is, rather than a burst.
 */
const UNMEASURED_PENALTY = 1e12;

/**
 * Finagle's / Linkerd's peak-EWMA load: latency estimate × (in-flight + 1), per unit
 * of weight. The estimate is {@link TargetState.latencyAt}: it jumps on a slow
 * response and decays over `ewmaWindow`.
 */
function peakEwmaCost(target: TargetState, now: number): number {
  if (!target.measured) return target.inFlight === 0 ? 0 : UNMEASURED_PENALTY + target.inFlight;
  return (target.latencyAt(now) * (target.inFlight + 1)) / target.effectiveWeight;
}

/**
 * Latency-aware balancing (Finagle's `P2CPeakEwma`, Linkerd's default): power of two
 * choices on the peak-EWMA cost. The balancer updates every target's estimate from
 * each response's duration; this strategy only reads it.
 */
export function peakEwma({ random, clock }: StrategyContext): Strategy<TargetState> {
  return {
    pick: (targets) => pickOfTwo(targets, random, peakEwmaCost, clock.now()),
  };
}
