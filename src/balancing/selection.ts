import type { Request } from 'express';
import { NoTargetError, SaturatedError, type LoadBalanceError } from '../errors';
import type { Pool } from './pool';
import type { StickySessions } from './sticky';
import type { Strategy } from './strategies/types';
import type { TargetState } from './target';

/** The target a request goes to, or why it goes nowhere. */
export type Choice =
  { readonly target: TargetState; readonly refused?: undefined } | { readonly target?: undefined; readonly refused: LoadBalanceError };

/**
 * Chooses targets: the client's sticky target while it can take requests, else the
 * strategy's pick among the available ones, within `maxInFlightPerTarget`. Never sends
 * anything and never counts anything: that is the attempt lifecycle's job.
 */
export class TargetSelector {
  constructor(
    private readonly pool: Pool,
    private readonly strategy: Strategy<TargetState>,
    private readonly sticky: StickySessions | undefined,
    private readonly maxInFlight: number,
  ) {}

  /**
   * A full pick gives way to a target with room, and with none, the request is refused
   * at once (HAProxy's maxconn without its queue: a queue would only hide the overload).
   */
  choose(req: Request): Choice {
    const max = this.maxInFlight;
    if (this.sticky !== undefined) {
      const id = this.sticky.read(req.headers.cookie);
      const pinned = id === undefined ? undefined : this.pool.byStickyId(id);
      if (pinned !== undefined && pinned.usable && pinned.inFlight < max) return { target: pinned };
    }
    const candidates = this.pool.available();
    const picked = candidates.length === 0 ? undefined : this.strategy.pick(candidates, req);
    if (picked === undefined) return { refused: new NoTargetError('no target available') };
    if (picked.inFlight < max) return { target: picked };
    const open = candidates.filter((target) => target.inFlight < max);
    if (open.length === 0) return { refused: new SaturatedError(`every target already holds ${max} requests`, 1) };
    const second = this.strategy.pick(open, req);
    return second === undefined ? { refused: new NoTargetError('no target available') } : { target: second };
  }

  /** A target for a retry that is none of `tried`, or undefined when there is none. */
  chooseRetry(req: Request, tried: readonly TargetState[]): TargetState | undefined {
    const max = this.maxInFlight;
    const untried = (target: TargetState): boolean => target.inFlight < max && !tried.includes(target);
    let open = this.pool.available().filter(untried);
    // As in panic mode: a target health checks gave up on is still better than none.
    if (open.length === 0) open = this.pool.targets.filter(untried);
    return open.length === 0 ? undefined : this.strategy.pick(open, req);
  }
}
