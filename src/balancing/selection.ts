import type { Request } from 'express';
import type { Random } from '../clock';
import { NoTargetError, SaturatedError, type LoadBalanceError } from '../errors';
import type { Level, Pool } from './pool';
import type { StickySessions } from './sticky';
import type { Strategy } from './strategies/types';
import type { TargetState } from './target';

/**
 * The target a request goes to, or why it goes nowhere; `canWait` when the reason may
 * pass (every target full, or none there yet): what the wait queue takes.
 */
export type Choice =
  | { readonly target: TargetState; readonly refused?: undefined }
  | { readonly target?: undefined; readonly refused: LoadBalanceError; readonly canWait: boolean };

/**
 * Envoy's overprovisioning factor: a level whose usable fraction is at least 1/1.4
 * (about 72 %) still takes all of its traffic; below that it sheds the rest to the next
 * level (Envoy docs, "Priority levels").
 */
const OVERPROVISIONING = 1.4;

/** How the selector treats priority levels. */
export interface SelectorSettings {
  /** Requests one target may hold at once. */
  readonly maxInFlight: number;
  /**
   * The strategy maps keys to targets (consistent hashing): spreading its requests over
   * levels by chance would move keys, so they stay on the lowest level with room.
   */
  readonly keyed: boolean;
  readonly random: Random;
}

/**
 * Chooses targets: the client's sticky target while it can take requests, else a
 * priority level by Envoy's priority-load rule, then the strategy's pick among that
 * level's targets with room under `maxInFlightPerTarget`. Never sends anything and never
 * counts anything: that is the attempt lifecycle's job.
 */
export class TargetSelector {
  private readonly maxInFlight: number;

  constructor(
    private readonly pool: Pool,
    private readonly strategy: Strategy<TargetState>,
    private readonly sticky: StickySessions | undefined,
    private readonly settings: SelectorSettings,
  ) {
    this.maxInFlight = settings.maxInFlight;
  }

  /**
   * A full pick gives way to a target with room, and with none, the request is refused
   * at once (HAProxy's maxconn without its queue).
   */
  choose(req: Request): Choice {
    const max = this.maxInFlight;
    this.pool.rampUp();
    if (this.sticky !== undefined) {
      const id = this.sticky.read(req.headers.cookie);
      const pinned = id === undefined ? undefined : this.pool.byStickyId(id);
      if (pinned !== undefined && pinned.usable && pinned.inFlight < max) return { target: pinned };
    }
    if (this.pool.levels.length > 1) return this.chooseByLevel(req);
    const candidates = this.pool.available();
    if (candidates.length === 0) return this.saturated();
    const picked = this.strategy.pick(candidates, req);
    if (picked === undefined) return { refused: new NoTargetError('no target available'), canWait: false };
    if (picked.inFlight < max) return { target: picked };
    return this.pickAmong(
      candidates.filter((target) => target.inFlight < max),
      req,
    );
  }

  /** A target for a retry that is none of `tried`, or undefined when there is none. */
  chooseRetry(req: Request, tried: readonly TargetState[]): TargetState | undefined {
    const usable = this.chooseUsable(req, tried);
    if (usable !== undefined) return usable;
    // As in panic mode: a target health checks gave up on is still better than none.
    const max = this.maxInFlight;
    const open = this.pool.targets.filter((target) => target.inFlight < max && !tried.includes(target));
    return open.length === 0 ? undefined : this.strategy.pick(open, req);
  }

  /**
   * A usable target with room that is not among `tried`, by priority level, or undefined:
   * where a hedge goes (unlike a retry, never to a target that is down: a hedge is extra
   * load, not the request's last chance).
   */
  chooseUsable(req: Request, tried: readonly TargetState[]): TargetState | undefined {
    const max = this.maxInFlight;
    this.pool.rampUp();
    const untried = (target: TargetState): boolean => target.inFlight < max && !tried.includes(target);
    for (const level of this.pool.levels) {
      const open = level.usable.filter(untried);
      if (open.length > 0) return this.strategy.pick(open, req);
    }
    return undefined;
  }

  /** Several levels: draw one by its share of the load, then pick among its targets with room. */
  private chooseByLevel(req: Request): Choice {
    const max = this.maxInFlight;
    const { levels } = this.pool;
    const open = levels.map((level) => (max === Infinity ? level.usable : level.usable.filter((target) => target.inFlight < max)));
    if (open.every((targets) => targets.length === 0)) {
      // Panic mode only once no level has a usable target; full ones are not a panic.
      return this.pool.usableCount > 0
        ? this.saturated()
        : this.pickAmong(
            this.pool.targets.filter((target) => target.inFlight < max),
            req,
          );
    }
    const index = this.settings.keyed ? open.findIndex((targets) => targets.length > 0) : this.drawLevel(levels, open);
    return this.pickAmong(open[index]!, req);
  }

  /**
   * Envoy's priority load: level 0 takes min(100 %, 1.4 × its usable fraction), level 1
   * min(what is left, 1.4 × its fraction), and so on; when they add up to less than
   * 100 %, each is scaled up to make 100 %. One draw of the random source picks a level.
   */
  private drawLevel(levels: readonly Level[], open: ReadonlyArray<readonly TargetState[]>): number {
    const loads = priorityLoad(levels, open);
    let point = this.settings.random();
    for (let i = 0; i < loads.length; i++) {
      point -= loads[i]!;
      if (point < 0 && open[i]!.length > 0) return i;
    }
    // Rounding can leave the point a hair past the last share: the last level with room.
    for (let i = open.length - 1; i >= 0; i--) if (open[i]!.length > 0) return i;
    return 0;
  }

  private pickAmong(candidates: readonly TargetState[], req: Request): Choice {
    if (candidates.length === 0) return this.saturated();
    const picked = this.strategy.pick(candidates, req);
    return picked === undefined ? { refused: new NoTargetError('no target available'), canWait: false } : { target: picked };
  }

  /** No target has room: every one is full, or there is none yet (DNS has not answered). */
  private saturated(): Choice {
    if (this.pool.targets.length === 0) return { refused: new NoTargetError('no target available'), canWait: true };
    return { refused: new SaturatedError(`every target already holds ${this.maxInFlight} requests`, 1), canWait: true };
  }
}

/**
 * The share of requests each level takes (fractions adding up to 1, or all 0 when no
 * level has room), from the targets each has room on. Exported for its table test.
 */
export function priorityLoad(levels: readonly Level[], open: ReadonlyArray<readonly TargetState[]>): number[] {
  const loads: number[] = [];
  let left = 1;
  let total = 0;
  for (let i = 0; i < levels.length; i++) {
    const size = levels[i]!.targets.length;
    const health = size === 0 ? 0 : Math.min(1, (OVERPROVISIONING * open[i]!.length) / size);
    const load = Math.min(left, health);
    loads.push(load);
    left -= load;
    total += load;
  }
  return total === 0 || total === 1 ? loads : loads.map((load) => load / total);
}
