import type { TargetState } from '../balancing/target';

/**
 * The targets one request has tried, and for each, how many times it had come back
 * (became usable again) when it failed: a request waiting in the queue goes back to a
 * target that failed it only once it has come back since.
 */
export class TriedTargets {
  private readonly targets: TargetState[] = [];
  private readonly comebacks: number[] = [];

  /** Notes that `target` failed the request now. */
  add(target: TargetState): void {
    const i = this.targets.indexOf(target);
    if (i === -1) {
      this.targets.push(target);
      this.comebacks.push(target.comebacks);
    } else {
      this.comebacks[i] = target.comebacks;
    }
  }

  /** Every target tried. */
  get all(): readonly TargetState[] {
    return this.targets;
  }

  /** The tried targets that have not come back since they failed the request. */
  stillDown(): TargetState[] {
    return this.targets.filter((target, i) => target.comebacks === this.comebacks[i]);
  }
}
