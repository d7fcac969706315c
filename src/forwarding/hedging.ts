import { IncomingMessage } from 'node:http';
import type { AxiosResponse } from 'axios';
import type { Request } from 'express';
import type { Attempt, AttemptOwner } from '../balancing/attempts';
import type { TargetState } from '../balancing/target';
import type { Timer } from '../clock';
import type { ExchangeContext } from './context';
import type { Hedging } from './hedge-policy';
import type { UpstreamHeaders } from './headers';
import { responseStream, sendCall, type SendCallbacks } from './send';
import { UpstreamCall } from './transport';
import { joinBasePath } from './upstream-path';

/** What a hedged request reports to: the exchange, which takes over the attempt that settles it. */
export interface HedgeOwner extends AttemptOwner {
  /** `leg`'s response head arrived first; every other attempt was cut; `failed` are the targets that failed it before. */
  hedgeAnswered(leg: HedgeLeg, upstream: IncomingMessage, failed: readonly TargetState[]): void;
  /**
   * The last open attempt failed, or an axios interceptor refused one (`error` is then
   * what to pass on); `failed` are the targets that failed it before.
   */
  hedgeFailed(leg: HedgeLeg, error: unknown, failed: readonly TargetState[]): void;
}

/** One attempt of a hedged request: the first, or a hedge. Its transport callbacks go to the {@link Hedge}. */
export class HedgeLeg implements SendCallbacks {
  call: UpstreamCall | undefined = undefined;
  resentFresh = false;
  /** Settled: answered, failed, or cut; whatever its request reports later is ignored. */
  done = false;

  constructor(
    private readonly hedge: Hedge,
    readonly target: TargetState,
    readonly attempt: Attempt,
    readonly headers: UpstreamHeaders,
  ) {}

  readonly onResponse = (upstream: IncomingMessage): void => this.hedge.answered(this, upstream);

  readonly onAxiosResponse = (response: AxiosResponse): void => {
    const upstream = responseStream(response);
    if (upstream instanceof IncomingMessage) this.hedge.answered(this, upstream);
    else this.hedge.refused(this, upstream);
  };

  readonly onError = (err: unknown): void => this.hedge.failed(this, err);

  /** Cuts the attempt: its upstream sees the connection close, its slot is given back. */
  cut(result: 'hedge-lost' | 'aborted'): void {
    this.done = true;
    this.call?.request?.destroy();
    this.attempt.end({ result });
  }
}

/**
 * One hedged client request until its first response head or its last failure: the
 * first attempt, then after `delay` ms without an answer a hedge to another usable target
 * not tried yet (taking the retry budget), up to `max` hedges. The first head wins and
 * every other attempt is cut at once; a failure while another attempt still runs is no
 * failure for the client. Then the exchange takes over the settling attempt.
 */
export class Hedge {
  private readonly legs: HedgeLeg[] = [];
  private readonly failedTargets: TargetState[] = [];
  private timer: Timer | undefined;
  /** Requests sent, resends on a fresh connection included: the `proxyReq` number. */
  sent = 0;

  constructor(
    private readonly hedging: Hedging,
    private readonly ctx: ExchangeContext,
    private readonly req: Request,
    private readonly relative: string,
    private readonly headers: UpstreamHeaders,
    private readonly owner: HedgeOwner,
  ) {}

  /** Sends the first attempt to `target`, and arms the hedge timer. */
  start(target: TargetState, delayMs: number): void {
    this.launch(target, this.headers);
    this.arm(delayMs);
  }

  /** The client left (or a drain cut the request): every open attempt is cut, and nothing more is sent. */
  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    for (const leg of this.legs) if (!leg.done) leg.cut('aborted');
  }

  answered(leg: HedgeLeg, upstream: IncomingMessage): void {
    if (leg.done) {
      upstream.destroy();
      return;
    }
    this.settle(leg);
    if (leg !== this.legs[0]) this.hedging.won++;
    this.owner.hedgeAnswered(leg, upstream, this.failedTargets);
  }

  refused(leg: HedgeLeg, error: TypeError): void {
    if (leg.done) return;
    this.settle(leg);
    this.owner.hedgeFailed(leg, error, this.failedTargets);
  }

  failed(leg: HedgeLeg, err: unknown): void {
    if (leg.done) return;
    const phase = leg.call!.failure;
    if (phase === 'reused-socket' && !leg.resentFresh) {
      // A pooled connection found closed (see Exchange.onError): the same target again on a new one.
      leg.resentFresh = true;
      this.send(leg, true);
      return;
    }
    if (phase !== undefined && this.legs.some((other) => other !== leg && !other.done)) {
      leg.done = true;
      leg.attempt.end({ result: 'error' });
      this.failedTargets.push(leg.target);
      return;
    }
    this.settle(leg);
    this.owner.hedgeFailed(leg, err, this.failedTargets);
  }

  /** `winner` settles the request: no more hedges, every other open attempt cut. */
  private settle(winner: HedgeLeg): void {
    this.timer?.cancel();
    this.timer = undefined;
    winner.done = true;
    for (const leg of this.legs) if (!leg.done) leg.cut('hedge-lost');
  }

  private arm(delayMs: number): void {
    if (this.legs.length > this.hedging.max) return;
    this.timer = this.ctx.clock.setTimeout(() => this.fire(delayMs), delayMs);
  }

  private fire(delayMs: number): void {
    this.timer = undefined;
    const { ctx, req } = this;
    const next = ctx.selector.chooseUsable(
      req,
      this.legs.map((leg) => leg.target),
    );
    if (next === undefined || !ctx.budget.tryRetry()) return;
    this.hedging.sent++;
    if (ctx.events.has('hedge')) ctx.events.emit('hedge', { req, target: this.legs[0]!.target, next, delayMs });
    const headers = ctx.config.preserveHost ? this.headers : { ...this.headers, host: next.hostHeader };
    this.launch(next, headers);
    this.arm(delayMs);
  }

  private launch(target: TargetState, headers: UpstreamHeaders): void {
    const leg = new HedgeLeg(this, target, this.ctx.lifecycle.begin(target, this.req, this.owner), headers);
    this.legs.push(leg);
    this.send(leg, false);
  }

  private send(leg: HedgeLeg, fresh: boolean): void {
    const path = joinBasePath(leg.target.basePath, this.relative);
    leg.call = new UpstreamCall(leg.target, path, undefined, this.ctx.deadlines, fresh, ++this.sent, this.ctx.tracing);
    leg.attempt.sent(path, this.sent);
    sendCall(this.ctx, this.req.method, leg.headers, leg.call, this.relative, leg);
  }
}
