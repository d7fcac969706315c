import type { Request } from 'express';
import type { TargetState } from '../balancing/target';
import type { WaitResult } from '../balancing/wait-queue';
import { mayRetry, type RetryableFailure } from '../resilience/retry-rules';
import { isReplayable, type RequestBody } from './body';
import type { ExchangeContext } from './context';
import { TriedTargets } from './tried-targets';

/**
 * The retry decisions of one client request: whether a failed attempt may be tried
 * again, where (never a target that already failed it while another is usable), within
 * `retries` and the retry budget; and, with the `queue` option, waiting for a target to
 * come back when none can take the retry now.
 */
export class RetryDecision {
  private used = 0;
  /** Targets already attempted; only allocated once an attempt fails. */
  private tried: TriedTargets | undefined;
  /** When a wait in the queue for a target to come back must end, once the request has waited. */
  private waitUntil: number | undefined;
  /** Takes the request out of the queue while it waits there. */
  private leaveQueue: (() => void) | undefined;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly req: Request,
    private readonly body: RequestBody,
  ) {}

  /** Retries made so far. */
  get count(): number {
    return this.used;
  }

  /**
   * The rules that depend on neither the next target nor the budget: the method and the
   * failure allow a retry (see retry-rules.ts), the body can be sent again, and nothing
   * went to the client yet.
   */
  allowed(failure: RetryableFailure, responseStarted: boolean): boolean {
    return !responseStarted && mayRetry(this.req.method, failure) && isReplayable(this.body);
  }

  /**
   * The target an immediate retry goes to, after `failed` failed: one not tried yet, while
   * `retries` is not used up and the retry budget has room (this takes the budget).
   */
  target(failed: TargetState): TargetState | undefined {
    const tried = (this.tried ??= new TriedTargets());
    tried.add(failed);
    if (this.used >= this.ctx.config.resilience.retries) return undefined;
    const next = this.ctx.selector.chooseRetry(this.req, tried.all);
    return next !== undefined && this.ctx.budget.tryRetry() ? next : undefined;
  }

  /** `target` failed the request (an attempt of a hedged one): no retry goes there. */
  failedOn(target: TargetState): void {
    (this.tried ??= new TriedTargets()).add(target);
  }

  /** A retry is made: counted against `retries`. */
  taken(): void {
    this.used++;
  }

  /**
   * What follows an attempt that failed on `failed`: when the rules allow a retry, one on
   * another target now (`retry`), or, when none can take it, a wait in the queue for one
   * to come back (then `retry`, or `giveUp` when the wait ends without one). False when
   * none of these: the request fails with the attempt's error.
   */
  retryOrWait(
    failure: RetryableFailure,
    failed: TargetState,
    responseStarted: boolean,
    retry: (target: TargetState) => void,
    giveUp: (result: Exclude<WaitResult, 'served' | 'aborted'>) => void,
  ): boolean {
    if (!this.allowed(failure, responseStarted)) return false;
    const next = this.target(failed);
    if (next === undefined) return this.wait(failed, retry, giveUp);
    retry(next);
    return true;
  }

  /**
   * No target can take a retry now: with the `queue` option, the request waits for a
   * target to come back (health check up, ejection or rest over; see TriedTargets) for at
   * most `queue.timeout` in all, like Caddy's `lb_try_duration`. False when there is no
   * queue or it is full.
   */
  private wait(
    failed: TargetState,
    go: (target: TargetState) => void,
    giveUp: (result: Exclude<WaitResult, 'served' | 'aborted'>) => void,
  ): boolean {
    const { queue, clock, selector } = this.ctx;
    if (queue === undefined) return false;
    const tried = (this.tried ??= new TriedTargets());
    tried.add(failed);
    this.waitUntil ??= clock.now() + queue.timeout;
    this.leaveQueue = queue.wait(
      {
        req: this.req,
        kind: 'retry',
        next: () => selector.chooseRetry(this.req, tried.stillDown()),
        go: (target) => {
          this.leaveQueue = undefined;
          go(target);
        },
        giveUp: (result) => {
          this.leaveQueue = undefined;
          giveUp(result);
        },
      },
      this.waitUntil - clock.now(),
    );
    return this.leaveQueue !== undefined;
  }

  /** The client left: stop waiting. */
  cancel(): void {
    this.leaveQueue?.();
  }
}
