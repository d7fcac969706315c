import type { Target } from '../target-views';

/** A target's running weight in smooth weighted round-robin: a box, so a pick updates it in place. */
export interface RunningWeight {
  value: number;
}

/**
 * The running weights (nginx's `current_weight`) of one strategy instance, kept by the
 * strategy rather than on the targets: two strategies, or two balancers, never share
 * them. Weakly keyed, so a removed target's entry goes with it.
 */
export class RunningWeights {
  private readonly byTarget = new WeakMap<Target, RunningWeight>();

  of(target: Target): RunningWeight {
    let running = this.byTarget.get(target);
    if (running === undefined) {
      running = { value: 0 };
      this.byTarget.set(target, running);
    }
    return running;
  }
}
