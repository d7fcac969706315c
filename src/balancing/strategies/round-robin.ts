import type { TargetState } from '../pool';
import type { Strategy } from './types';

/**
 * nginx's smooth weighted round-robin (ngx_http_upstream_get_peer): every pick adds
 * each target's weight to its running weight, takes the largest, and subtracts the
 * total from the winner. Weights 5,1,1 give a a b a c a a: spread out, never a burst.
 * With equal weights it is plain rotation in configuration order.
 */
export function roundRobin(): Strategy<TargetState> {
  return {
    pick(targets) {
      let best: TargetState | undefined;
      let total = 0;
      for (let i = 0; i < targets.length; i++) {
        const target = targets[i]!;
        target.currentWeight += target.weight;
        total += target.weight;
        if (best === undefined || target.currentWeight > best.currentWeight) best = target;
      }
      if (best !== undefined) best.currentWeight -= total;
      return best;
    },
  };
}
