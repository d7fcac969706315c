import { IncomingMessage, type Agent, type OutgoingHttpHeaders } from 'node:http';
import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import type { NextFunction, Request, Response } from 'express';
import { isReplayable, StreamedBody, type RequestBody } from './body';
import { BadGatewayError, GatewayTimeoutError, type LoadBalanceError, type PayloadTooLargeError } from '../errors';
import type { Events } from '../observability/events';
import type { OutlierDetection } from '../resilience/outlier-detection';
import { log } from '../observability/log';
import { copyResponseHead, type UpstreamHeaders } from './headers';
import type { TargetState } from '../balancing/pool';
import { mayRetry, type RetryableFailure, type RetryBudget } from '../resilience/retry';
import type { Strategy } from '../balancing/strategies/types';
import { dispatch, HOP, Hop, type DispatchCallbacks } from './transport';
import { joinBasePath } from './upstream-path';

/** What an exchange needs from its balancer. */
export interface ForwardContext {
  readonly axios: AxiosInstance;
  readonly strategy: Strategy<TargetState>;
  readonly events: Events;
  readonly timeout: number;
  readonly connectTimeout: number;
  readonly preserveHost: boolean;
  /** Extra attempts on other targets a request may make. */
  readonly retries: number;
  /** Upstream statuses that count as a failed attempt worth retrying. */
  readonly retryOn: ReadonlySet<number>;
  readonly budget: RetryBudget;
  readonly outliers: OutlierDetection | undefined;
  /** Runs once the upstream's head is copied, before the body: sticky adds its cookie here. */
  readonly onResponseHead?: ((req: Request, res: Response, target: TargetState) => void) | undefined;
  /** True when nothing on `axios` (interceptors, default headers) would change a request. */
  direct(): boolean;
  /** A target for a retry that is none of `tried`, or undefined when there is none. */
  pickRetry(req: Request, tried: readonly TargetState[]): TargetState | undefined;
}

/**
 * One client request, forwarded: sends it to a target, again on a fresh connection if a
 * pooled one turned out dead, to other targets when an attempt fails and the retry rules
 * allow it, then streams the answer back. Each attempt raises its target's in-flight
 * count once and lowers it exactly once, however it ends.
 */
export class Exchange implements DispatchCallbacks {
  private target: TargetState;
  private attempt = 0;
  private retriesUsed = 0;
  /** Targets already attempted; only allocated when a retry happens. */
  private tried: TargetState[] | undefined;
  /** The current attempt holds an in-flight slot on {@link target}. */
  private attemptOpen = false;
  private resentFresh = false;
  private attemptStartedAt = 0;
  private clientClosed = false;
  private hop: Hop | undefined;
  /** The response being streamed to the client, once there is one. */
  private upstream: IncomingMessage | undefined;
  private status = 0;
  private readonly startedAt = performance.now();

  constructor(
    private readonly ctx: ForwardContext,
    private readonly req: Request,
    private readonly res: Response,
    private readonly next: NextFunction,
    target: TargetState,
    /** Path and query relative to the target's base path. */
    private readonly relative: string,
    private readonly body: RequestBody,
    private readonly headers: UpstreamHeaders,
  ) {
    this.target = target;
  }

  start(): void {
    this.ctx.budget.recordRequest();
    this.res.on('close', this.onClientClose);
    this.begin(this.target);
  }

  /** Starts an attempt on `target`, taking an in-flight slot there. */
  private begin(target: TargetState): void {
    if (target !== this.target && !this.ctx.preserveHost) this.headers.host = target.hostHeader;
    this.target = target;
    this.attemptOpen = true;
    this.resentFresh = false;
    this.attemptStartedAt = performance.now();
    target.inFlight++;
    this.ctx.strategy.onStart?.(target, this.req);
    this.send(false);
  }

  private send(fresh: boolean): void {
    const { target, ctx } = this;
    this.attempt++;
    target.requests++;
    const path = joinBasePath(target.basePath, this.relative);
    this.hop = new Hop(target, path, this.body, ctx.timeout, ctx.connectTimeout, fresh);
    if (ctx.events.has('proxyReq')) {
      ctx.events.emit('proxyReq', { target, req: this.req, method: this.req.method, path, attempt: this.attempt });
    }
    const { headers } = this;
    if (ctx.direct()) {
      // Nothing on lb.axios would change the request: skip axios's config merging and
      // header normalising (about a fifth of the CPU of a small request) and send it
      // with the same transport axios would call.
      if (headers['content-type'] === false) delete headers['content-type'];
      const { defaults } = ctx.axios;
      const agent = target.protocol === 'https:' ? defaults.httpsAgent : defaults.httpAgent;
      dispatch(this.hop, this.req.method, headers as OutgoingHttpHeaders, agent as Agent | undefined, this);
      return;
    }
    // axios adds a form Content-Type to a bodiless POST/PUT/PATCH unless the header is
    // there; a false value stops it and is itself dropped before sending.
    if (headers['content-type'] === undefined) headers['content-type'] = false;
    const config = { method: this.req.method, url: target.url + this.relative, headers, [HOP]: this.hop };
    ctx.axios.request(config as AxiosRequestConfig).then(this.onAxiosResponse, this.onError);
  }

  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) return;
    // The client went away: abort upstream at once so the upstream sees its connection close.
    this.clientClosed = true;
    this.hop?.request?.destroy();
    if (this.upstream !== undefined) this.end(true, this.status, undefined);
  };

  private readonly onAxiosResponse = (response: AxiosResponse): void => {
    const upstream = (response as Partial<AxiosResponse> | undefined)?.data as unknown;
    if (!(upstream instanceof IncomingMessage)) {
      this.notFromUpstream(
        new TypeError('express-load-balance: an axios response interceptor must return the response, with its data stream unread'),
      );
      return;
    }
    this.onResponse(upstream);
  };

  /** The upstream's response head arrived: forward it, or retry when `retryOn` says so. */
  readonly onResponse = (upstream: IncomingMessage): void => {
    const { res, target, ctx } = this;
    const status = upstream.statusCode ?? 0;
    if (this.clientClosed) {
      upstream.destroy();
      this.end(true, status, undefined);
      return;
    }
    const retryTarget = ctx.retryOn.has(status) && this.mayRetry({ phase: 'status', status }) ? this.retryTarget() : undefined;
    if (retryTarget !== undefined) {
      // Throw the answer away (reading it to the end keeps the connection reusable) and
      // try elsewhere; when no retry is possible, this same answer goes to the client.
      upstream.resume();
      target.failures++;
      this.end(false, status, status >= 500);
      this.retryWith(retryTarget, new BadGatewayError(`${target.url} answered ${status}`, target.url));
      return;
    }
    if (ctx.events.has('proxyRes')) {
      ctx.events.emit('proxyRes', { target, req: this.req, status, durationMs: performance.now() - this.startedAt });
    }
    try {
      copyResponseHead(upstream, res);
    } catch (cause) {
      upstream.destroy();
      this.fail(new BadGatewayError(`${target.url} sent a response head that cannot be forwarded`, target.url, { cause }));
      return;
    }
    ctx.onResponseHead?.(this.req, res, target);
    // Once bytes went to the client, nothing is retried. pipe() rather than pipeline():
    // the same flow for a fraction of the cost (pipeline builds an AbortController per
    // call), with the failure handling spelled out below.
    this.status = status;
    this.upstream = upstream;
    upstream.on('error', this.onBodyError);
    upstream.once('close', this.onBodyClose);
    res.once('finish', this.onFinish);
    upstream.pipe(res);
  };

  private readonly onFinish = (): void => {
    this.end(true, this.status, this.status >= 500);
  };

  /**
   * The upstream body broke off. The client response is destroyed, so the client sees a
   * broken response rather than one that merely looks short.
   */
  private readonly onBodyError = (): void => {
    if (!this.attemptOpen) return;
    if (this.clientClosed || this.tooLarge() !== undefined) {
      // The client left, or sent too much and this side cut the upstream request: not
      // the target's fault.
      if (!this.clientClosed) this.res.destroy();
      this.end(true, this.status, undefined);
      return;
    }
    this.target.failures++;
    this.res.destroy();
    this.end(false, this.status, true, true);
  };

  /** Node reports most broken bodies as 'error'; a close before the end is one too. */
  private readonly onBodyClose = (): void => {
    if (this.upstream !== undefined && !this.upstream.complete) this.onBodyError();
  };

  /**
   * An interceptor on lb.axios threw, or a response interceptor returned something other
   * than the response with its stream (`(r) => r.data`, as apps write for their own
   * calls). Not the target's fault, so neither a failure nor a retry: the error goes to
   * next(err) as it is, and the upstream connection is dropped, as nobody will read it.
   */
  private notFromUpstream(error: unknown): void {
    this.hop?.request?.destroy();
    this.end(true, undefined, undefined);
    if (this.clientClosed) return;
    this.next(error);
  }

  /**
   * The attempt failed: from the transport (called directly, or as axios's rejection)
   * or from an axios interceptor, which the hop's missing failure phase tells apart.
   */
  readonly onError = (err: unknown): void => {
    const { target } = this;
    if (this.clientClosed) {
      this.end(true, undefined, undefined);
      return;
    }
    const tooLarge = this.tooLarge();
    if (tooLarge !== undefined) {
      // The body outgrew maxBodySize and was cut here: the client's fault, not the
      // target's, so neither a failure nor a retry.
      this.end(true, undefined, undefined);
      if (!this.res.headersSent) this.res.setHeader('Connection', 'close');
      if (this.ctx.events.has('error')) this.ctx.events.emit('error', { error: tooLarge, target, req: this.req });
      this.next(tooLarge);
      return;
    }
    const phase = this.hop?.failure;
    if (phase === undefined) {
      // The transport did not fail: an interceptor on lb.axios threw.
      this.notFromUpstream(err);
      return;
    }
    if (phase === 'reused-socket' && !this.resentFresh && isReplayable(this.body) && mayRetry(this.req.method, { phase })) {
      // A pooled connection was found closed before any response byte, most likely by the
      // upstream's idle timer: the same target gets the request again on a new connection
      // (idempotent methods only, see mayRetry), not counted against `retries`.
      this.resentFresh = true;
      this.send(true);
      return;
    }
    target.failures++;
    this.end(false, undefined, true);
    const message = err instanceof Error ? err.message : String(err);
    const error =
      phase === 'timeout'
        ? new GatewayTimeoutError(`${target.url} sent no response headers within ${this.ctx.timeout} ms`, target.url, { cause: err })
        : phase === 'connect-timeout'
          ? new GatewayTimeoutError(`${target.url} did not accept a connection within ${this.ctx.connectTimeout} ms`, target.url, { cause: err })
          : new BadGatewayError(`${target.url} failed: ${message}`, target.url, { cause: err });
    const retryTarget = this.mayRetry({ phase }) ? this.retryTarget() : undefined;
    if (retryTarget !== undefined) this.retryWith(retryTarget, error);
    else this.fail(error);
  };

  private tooLarge(): PayloadTooLargeError | undefined {
    return this.body instanceof StreamedBody ? this.body.tooLarge : undefined;
  }

  /** The retry rules that do not depend on which target is next or on the budget. */
  private mayRetry(failure: RetryableFailure): boolean {
    return (
      this.retriesUsed < this.ctx.retries &&
      !this.res.headersSent &&
      mayRetry(this.req.method, failure) &&
      isReplayable(this.body)
    );
  }

  /**
   * The target a retry goes to: not one already tried (never the one that just failed
   * while another is usable), and only if the retry budget has room. Takes the budget.
   */
  private retryTarget(): TargetState | undefined {
    const tried = (this.tried ??= []);
    if (!tried.includes(this.target)) tried.push(this.target);
    const next = this.ctx.pickRetry(this.req, tried);
    return next !== undefined && this.ctx.budget.tryRetry() ? next : undefined;
  }

  private retryWith(next: TargetState, error: LoadBalanceError): void {
    const { ctx, target, body } = this;
    if (body !== undefined && !Buffer.isBuffer(body)) body.detach();
    this.retriesUsed++;
    if (log.forward.enabled) log.forward('%s %s: retry %d on %s after: %s', this.req.method, this.req.originalUrl, this.retriesUsed, next.url, error.message);
    if (ctx.events.has('retry')) ctx.events.emit('retry', { req: this.req, target, next, attempt: this.attempt + 1, error });
    this.begin(next);
  }

  private fail(error: LoadBalanceError): void {
    if (this.attemptOpen) {
      this.target.failures++;
      this.end(false, undefined, true);
    }
    if (this.ctx.events.has('error')) this.ctx.events.emit('error', { error, target: this.target, req: this.req });
    if (log.forward.enabled) log.forward('%s %s failed (%d %s): %s', this.req.method, this.req.originalUrl, error.status, error.code, error.message);
    this.next(error);
  }

  /**
   * Ends the current attempt, once: gives back its in-flight slot, tells the strategy,
   * and tells outlier detection whether it failed (`undefined`: the client left, which
   * says nothing about the target). `broken`: the answer broke off midway.
   */
  private end(ok: boolean, status: number | undefined, failedForOutliers: boolean | undefined, broken = false): void {
    if (!this.attemptOpen) return;
    this.attemptOpen = false;
    const { target, ctx } = this;
    target.inFlight--;
    const durationMs = performance.now() - this.attemptStartedAt;
    ctx.strategy.onEnd?.(target, { ok, status, durationMs });
    if (failedForOutliers !== undefined) ctx.outliers?.record(target, failedForOutliers);
    if (ctx.events.has('proxyEnd')) {
      const result = failedForOutliers === undefined ? 'aborted' : status === undefined || broken ? 'error' : 'response';
      ctx.events.emit('proxyEnd', { target, req: this.req, method: this.req.method, status, result, durationMs });
    }
  }
}
