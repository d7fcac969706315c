import type { TargetState } from '../target';
import { RunningWeights, type RunningWeight } from './running-weights';
import type { Strategy } from './types';

/**
 * nginx's `least_conn`: the target with the fewest in-flight requests relative to its
 * weight (inFlight / weight, compared by cross-multiplying so no division rounds two
 * equal loads apart). Ties go to smooth weighted round robin among the tied targets,
 * as nginx does, so idle targets take turns (in weight proportion) instead of the
 * first one taking everything.
 */
export function leastConnections(): Strategy<TargetState> {
  const running = new RunningWeights();
  return {
    pick(targets) {
      let least: TargetState | undefined;
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]!;
        if (least === undefined || target.inFlight * least.effectiveWeight < least.inFlight * target.effectiveWeight) least = target;
      }
      if (least === undefined) return undefined;
      let best: TargetState | undefined;
      let bestRunning: RunningWeight | undefined;
      let total = 0;
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]!;
        if (target.inFlight * least.effectiveWeight !== least.inFlight * target.effectiveWeight) continue;
        const current = running.of(target);
        current.value += target.effectiveWeight;
        total += target.effectiveWeight;
        if (bestRunning === undefined || current.value > bestRunning.value) {
          best = target;
          bestRunning = current;
        }
      }
      bestRunning!.value -= total;
      return best;
    },
  };
}
