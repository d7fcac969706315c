import type { TargetState } from '../target';
import { RunningWeights, type RunningWeight } from './running-weights';
import type { Strategy } from './types';

/**
 * nginx's smooth weighted round-robin (ngx_http_upstream_get_peer): every pick adds
 * each target's weight to its running weight, takes the largest, and subtracts the
 * total from the winner. Weights 5,1,1 give a a b a c a a: spread out, never a burst.
 * With equal weights it is plain rotation in configuration order.
 */
export function roundRobin(): Strategy<TargetState> {
  const running = new RunningWeights();
  return {
    pick(targets) {
      let best: TargetState | undefined;
      let bestRunning: RunningWeight | undefined;
      let total = 0;
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]!;
        const current = running.of(target);
        current.value += target.effectiveWeight;
        total += target.effectiveWeight;
        if (bestRunning === undefined || current.value > bestRunning.value) {
          best = target;
          bestRunning = current;
        }
      }
      if (bestRunning !== undefined) bestRunning.value -= total;
      return best;
    },
  };
}
