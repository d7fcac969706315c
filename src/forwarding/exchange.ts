import { IncomingMessage } from 'node:http';
import type { AxiosResponse } from 'axios';
import type { NextFunction, Request, Response } from 'express';
import type { Attempt, AttemptOutcome } from '../balancing/attempts';
import type { TargetState } from '../balancing/target';
import { BadGatewayError, NoTargetError, type LoadBalanceError } from '../errors';
import { log } from '../observability/log';
import { retryAfterMs } from '../resilience/back-pressure';
import { StreamedBody, type RequestBody } from './body';
import { RetryDecision } from './retry-decision';
import type { ExchangeContext } from './context';
import type { UpstreamHeaders } from './headers';
import { Hedge, type HedgeLeg, type HedgeOwner } from './hedging';
import { writeResponseHead } from './response-head';
import { ResponseRelay } from './response-relay';
import { responseStream, sendCall, type SendCallbacks } from './send';
import { UpstreamCall } from './transport';
import { leaveBodyUnread } from './unread-body';
import { upstreamError } from './upstream-errors';
import { joinBasePath } from './upstream-path';

/** Where a client request goes first, and what is sent: decided by the forwarder. */
export interface ExchangePlan {
  readonly target: TargetState;
  /** Path and query relative to the target's base path. */
  readonly relative: string;
  readonly body: RequestBody;
  readonly headers: UpstreamHeaders;
}

/**
 * One client request, forwarded: sends it to a target, again on a fresh connection if a
 * pooled one turned out dead, to other targets when an attempt fails and the retry rules
 * allow it, then hands the answer to a {@link ResponseRelay}. Each attempt is begun and
 * ended through the attempt lifecycle, exactly once, however it ends.
 */
export class Exchange implements SendCallbacks, HedgeOwner {
  private target: TargetState;
  private readonly body: RequestBody;
  /** The body when it is the client's stream: it may be cut for size, and must be detached from a failed request. */
  private readonly streamed: StreamedBody | undefined;
  private readonly headers: UpstreamHeaders;
  private readonly relative: string;
  private attempt: Attempt | undefined;
  /** Requests sent so far, resends on a fresh connection included: the `proxyReq` number. */
  private sent = 0;
  /** The retry decisions, made once an attempt fails: most requests never need them. */
  private decisions: RetryDecision | undefined;
  private resentFresh = false;
  private clientClosed = false;
  private call: UpstreamCall | undefined;
  /** The attempts of a hedged request until one settles it; then the exchange takes that one over. */
  private hedge: Hedge | undefined;
  /** Streams the answer to the client, once one was accepted. */
  private relay: ResponseRelay | undefined;
  private readonly startedAt: number;

  constructor(
    private readonly ctx: ExchangeContext,
    private readonly req: Request,
    private readonly res: Response,
    private readonly next: NextFunction,
    plan: ExchangePlan,
  ) {
    this.target = plan.target;
    this.relative = plan.relative;
    this.body = plan.body;
    this.streamed = plan.body instanceof StreamedBody ? plan.body : undefined;
    this.headers = plan.headers;
    this.startedAt = ctx.clock.now();
  }

  start(): void {
    const { ctx } = this;
    ctx.budget.recordRequest();
    this.res.on('close', this.onClientClose);
    const delayMs = ctx.hedging?.delayFor(this.req, this.body);
    if (delayMs !== undefined) {
      this.hedge = new Hedge(ctx.hedging!, ctx, this.req, this.relative, this.headers, this);
      this.hedge.start(this.target, delayMs);
      return;
    }
    this.begin(this.target);
  }

  hedgeAnswered(leg: HedgeLeg, upstream: IncomingMessage, failed: readonly TargetState[]): void {
    this.takeOver(leg, failed);
    this.onResponse(upstream);
  }

  hedgeFailed(leg: HedgeLeg, error: unknown, failed: readonly TargetState[]): void {
    this.takeOver(leg, failed);
    this.onError(error);
  }

  /**
   * The attempt that settled a hedged request becomes the exchange's own: retries and the
   * answer go on from it, and no retry goes to a target that failed the request before.
   */
  private takeOver(leg: HedgeLeg, failed: readonly TargetState[]): void {
    for (const target of failed) this.retries().failedOn(target);
    this.sent = this.hedge!.sent;
    this.hedge = undefined;
    this.target = leg.target;
    this.attempt = leg.attempt;
    this.call = leg.call;
    this.resentFresh = leg.resentFresh;
    if (leg.headers !== this.headers) this.headers.host = leg.target.hostHeader;
  }

  /** Starts an attempt on `target`, taking an in-flight slot there. */
  private begin(target: TargetState): void {
    if (target !== this.target && !this.ctx.config.preserveHost) this.headers.host = target.hostHeader;
    this.target = target;
    this.resentFresh = false;
    this.attempt = this.ctx.lifecycle.begin(target, this.req, this);
    this.send(false);
  }

  private send(fresh: boolean): void {
    const { target, ctx, headers } = this;
    const path = joinBasePath(target.basePath, this.relative);
    this.call = new UpstreamCall(target, path, this.body, ctx.deadlines, fresh, ++this.sent, ctx.tracing);
    this.attempt!.sent(path, this.sent);
    sendCall(ctx, this.req.method, headers, this.call, this.relative, this);
  }

  /** Ends the current attempt, if it is still open. */
  private end(outcome: AttemptOutcome): void {
    this.attempt?.end(outcome);
  }

  /**
   * `close({ drain })` reached its deadline with this request in flight: the client
   * connection is broken, as when an upstream breaks off mid-answer, and the rest goes
   * as when the client leaves (the upstream request is cut, nothing is retried).
   */
  abort(): void {
    this.res.destroy();
    this.onClientClose();
  }

  /** `res` closed: after the whole answer went out (Node fires `close` after `finish`), or with the client gone. */
  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) {
      this.relay?.delivered();
      return;
    }
    // The client went away: abort upstream at once so the upstream sees its connection close.
    this.clientClosed = true;
    this.decisions?.cancel();
    this.hedge?.cancel();
    this.call?.request?.destroy();
    this.relay?.clientLeft();
  };

  readonly onAxiosResponse = (response: AxiosResponse): void => {
    const upstream = responseStream(response);
    if (upstream instanceof IncomingMessage) this.onResponse(upstream);
    else this.notFromUpstream(upstream);
  };

  /** The upstream's response head arrived: forward it, or retry when `retryOn` says so. */
  readonly onResponse = (upstream: IncomingMessage): void => {
    const { res, target, ctx } = this;
    const status = upstream.statusCode ?? 0;
    // Only a 503 or 429 can ask for a pause: reading `headers` builds a second copy of
    // them (copyResponseHead reads headersDistinct), so other answers never do.
    const retryAfter =
      (status === 503 || status === 429) && ctx.config.resilience.retryAfter !== undefined
        ? retryAfterMs(status, upstream.headers['retry-after'], ctx.clock.wallNow())
        : undefined;
    if (this.clientClosed) {
      upstream.destroy();
      this.end({ result: 'aborted', status });
      return;
    }
    const retryTarget =
      ctx.config.resilience.retryOn.has(status) && this.retries().allowed({ phase: 'status', status }, res.headersSent)
        ? this.retries().target(target)
        : undefined;
    if (retryTarget !== undefined) {
      // Throw the answer away (reading it to the end keeps the connection reusable) and
      // try elsewhere; when no retry is possible, this same answer goes to the client.
      upstream.resume();
      this.end({ result: 'rejected', status, retryAfterMs: retryAfter });
      this.retryWith(retryTarget, new BadGatewayError(`${target.url} answered ${status}`, target.url));
      return;
    }
    if (ctx.events.has('proxyRes')) {
      ctx.events.emit('proxyRes', { target, req: this.req, status, durationMs: ctx.clock.now() - this.startedAt });
    }
    try {
      writeResponseHead(ctx, this.req, res, upstream, target);
    } catch (cause) {
      upstream.destroy();
      this.fail(new BadGatewayError(`${target.url} sent a response head that cannot be forwarded`, target.url, { cause }));
      return;
    }
    // Once bytes went to the client, nothing is retried.
    this.relay = new ResponseRelay(this.attempt!, upstream, res, this.body, retryAfter);
  };

  /**
   * An interceptor on lb.axios threw, or a response interceptor returned something other
   * than the response with its stream (`(r) => r.data`, as apps write for their own
   * calls). Not the target's fault, so neither a failure nor a retry: the error goes to
   * next(err) as it is, and the upstream connection is dropped, as nobody will read it.
   */
  private notFromUpstream(error: unknown): void {
    this.call?.request?.destroy();
    this.end({ result: 'aborted' });
    if (this.clientClosed) return;
    this.next(error);
  }

  /**
   * The attempt failed: from the transport (called directly, or as axios's rejection)
   * or from an axios interceptor, which the call's missing failure phase tells apart.
   */
  readonly onError = (err: unknown): void => {
    const { target } = this;
    if (this.clientClosed) {
      this.end({ result: 'aborted' });
      return;
    }
    const tooLarge = this.streamed?.tooLarge;
    if (tooLarge !== undefined) {
      // The body outgrew maxBodySize and was cut here: the client's fault, not the
      // target's, so neither a failure nor a retry.
      this.end({ result: 'aborted' });
      leaveBodyUnread(this.req, this.res);
      if (this.ctx.events.has('error')) this.ctx.events.emit('error', { error: tooLarge, target, req: this.req });
      this.next(tooLarge);
      return;
    }
    const phase = this.call?.failure;
    if (phase === undefined) {
      // The transport did not fail: an interceptor on lb.axios threw.
      this.notFromUpstream(err);
      return;
    }
    if (phase === 'reused-socket' && !this.resentFresh && this.retries().allowed({ phase }, this.res.headersSent)) {
      // A pooled connection was found closed before any response byte, most likely by the
      // upstream's idle timer: the same target gets the request again on a new connection
      // (idempotent methods only, see mayRetry), not counted against `retries`.
      this.resentFresh = true;
      this.send(true);
      return;
    }
    this.end({ result: 'error' });
    const error = upstreamError(target.url, phase, this.ctx.deadlines, err);
    const retry = (next: TargetState): void => this.retryWith(next, error);
    if (!this.retries().retryOrWait({ phase }, target, this.res.headersSent, retry, (result) => this.gaveUp(result))) this.fail(error);
  };

  private retries(): RetryDecision {
    return (this.decisions ??= new RetryDecision(this.ctx, this.req, this.body));
  }

  /** A wait in the queue for a target to come back ended without one. */
  private gaveUp(result: 'timeout' | 'closed'): void {
    if (result === 'closed') this.res.setHeader('Connection', 'close');
    this.fail(result === 'closed' ? new NoTargetError('express-load-balance: the balancer is closed') : this.ctx.queue!.timeoutError());
  }

  private retryWith(next: TargetState, error: LoadBalanceError): void {
    const { ctx, target } = this;
    this.streamed?.detach();
    this.retries().taken();
    if (log.forward.enabled)
      log.forward('%s %s: retry %d on %s after: %s', this.req.method, this.req.originalUrl, this.retries().count, next.url, error.message);
    if (ctx.events.has('retry')) ctx.events.emit('retry', { req: this.req, target, next, attempt: this.sent + 1, error });
    this.begin(next);
  }

  private fail(error: LoadBalanceError): void {
    this.end({ result: 'error' });
    // A client still uploading must not go on feeding the dead upstream request: its
    // writes would report backpressure that never drains and pause the client for good,
    // while Express's error handler waits for the body's end before it answers.
    this.streamed?.detach();
    if (this.ctx.events.has('error')) this.ctx.events.emit('error', { error, target: this.target, req: this.req });
    if (log.forward.enabled)
      log.forward('%s %s failed (%d %s): %s', this.req.method, this.req.originalUrl, error.status, error.code, error.message);
    this.next(error);
  }
}
