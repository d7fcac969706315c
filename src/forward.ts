import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream';
import type { AxiosInstance, AxiosRequestConfig, AxiosResponse } from 'axios';
import type { NextFunction, Request, Response } from 'express';
import { isReplayable, type RequestBody } from './body';
import { BadGatewayError, GatewayTimeoutError, type LoadBalanceError } from './errors';
import type { Events } from './events';
import { copyResponseHead, type UpstreamHeaders } from './headers';
import type { TargetState } from './pool';
import type { Strategy } from './strategies/types';
import { HOP, Hop, type TransportError } from './transport';
import { joinBasePath } from './upstream-path';

/** What an exchange needs from its balancer. */
export interface ForwardContext {
  readonly axios: AxiosInstance;
  readonly strategy: Strategy<TargetState>;
  readonly events: Events;
  readonly timeout: number;
  /** Runs once the upstream's head is copied, before the body: sticky adds its cookie here. */
  readonly onResponseHead?: ((req: Request, res: Response, target: TargetState) => void) | undefined;
}

/**
 * One client request forwarded to one target: sends it (again once, on a fresh
 * connection, if a pooled one turned out dead), streams the answer back, and settles
 * the target's counters exactly once however it ends.
 */
export class Exchange {
  private attempt = 0;
  private settled = false;
  private clientClosed = false;
  private hop: Hop | undefined;
  private readonly startedAt = performance.now();

  constructor(
    private readonly ctx: ForwardContext,
    private readonly req: Request,
    private readonly res: Response,
    private readonly next: NextFunction,
    private readonly target: TargetState,
    /** Path and query relative to the target's base path. */
    private readonly relative: string,
    private readonly body: RequestBody,
    private readonly headers: UpstreamHeaders,
  ) {}

  start(): void {
    const { target } = this;
    target.inFlight++;
    this.ctx.strategy.onStart?.(target, this.req);
    this.res.on('close', this.onClientClose);
    this.send(false);
  }

  private send(fresh: boolean): void {
    const { target, ctx } = this;
    this.attempt++;
    target.requests++;
    const path = joinBasePath(target.basePath, this.relative);
    this.hop = new Hop(target, path, this.body, ctx.timeout, fresh);
    if (ctx.events.has('proxyReq')) {
      ctx.events.emit('proxyReq', { target, req: this.req, method: this.req.method, path, attempt: this.attempt });
    }
    const config = { method: this.req.method, url: target.url + this.relative, headers: this.headers, [HOP]: this.hop };
    ctx.axios.request(config as AxiosRequestConfig).then(this.onResponse, this.onFailure);
  }

  private readonly onClientClose = (): void => {
    if (this.res.writableFinished) return;
    // The client went away: abort upstream at once so the upstream sees its connection close.
    this.clientClosed = true;
    this.hop?.request?.destroy();
  };

  private readonly onResponse = (response: AxiosResponse): void => {
    const upstream = response.data as IncomingMessage;
    const { res, target, ctx } = this;
    if (this.clientClosed) {
      upstream.destroy();
      this.settle(true, response.status);
      return;
    }
    if (ctx.events.has('proxyRes')) {
      ctx.events.emit('proxyRes', {
        target,
        req: this.req,
        status: response.status,
        durationMs: performance.now() - this.startedAt,
      });
    }
    try {
      copyResponseHead(upstream, res);
    } catch (cause) {
      upstream.destroy();
      this.fail(new BadGatewayError(`${target.url} sent a response head that cannot be forwarded`, target.url, { cause }));
      return;
    }
    ctx.onResponseHead?.(this.req, res, target);
    // pipeline() destroys the client response if the upstream body fails midway, so the
    // client sees a broken response rather than one that merely looks short.
    pipeline(upstream, res, (err) => {
      if (err && !this.clientClosed) target.failures++;
      this.settle(!err || this.clientClosed, response.status);
    });
  };

  private readonly onFailure = (err: unknown): void => {
    const { target } = this;
    if (this.clientClosed) {
      this.settle(true);
      return;
    }
    const failure = err as Partial<TransportError>;
    if (failure.phase === 'reused-socket' && this.attempt === 1 && isReplayable(this.body)) {
      // The request never reached the application: safe to send again, whatever the method.
      this.send(true);
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    this.fail(
      failure.phase === 'timeout'
        ? new GatewayTimeoutError(`${target.url} sent no response headers within ${this.ctx.timeout} ms`, target.url, { cause: err })
        : new BadGatewayError(`${target.url} failed: ${message}`, target.url, { cause: err }),
    );
  };

  private fail(error: LoadBalanceError): void {
    this.target.failures++;
    this.settle(false);
    if (this.ctx.events.has('error')) this.ctx.events.emit('error', { error, target: this.target, req: this.req });
    this.next(error);
  }

  /** Runs once per exchange, whatever happened: the one place in-flight counts go down. */
  private settle(ok: boolean, status?: number): void {
    if (this.settled) return;
    this.settled = true;
    this.target.inFlight--;
    this.ctx.strategy.onEnd?.(this.target, { ok, status, durationMs: performance.now() - this.startedAt });
  }
}
