import type { NextFunction, Request, Response } from 'express';
import type { TargetState } from '../balancing/target';
import type { WaitQueue } from '../balancing/wait-queue';
import { BadRequestError, NoTargetError, PayloadTooLargeError } from '../errors';
import { log } from '../observability/log';
import { axiosChangesRequests } from './axios-instance';
import { AxiosPipeline } from './axios-pipeline';
import { requestBody, StreamedBody } from './body';
import type { ExchangeContext, ForwardingParts } from './context';
import { Exchange } from './exchange';
import { continueIfAwaited } from './expect-continue';
import { upstreamRequestHeaders } from './headers';
import { leaveBodyUnread } from './unread-body';
import { relativePath } from './upstream-path';

/**
 * The HTTP side of a balancer: admits a client request (method, path, declared body
 * size), chooses its first target, and hands it to an {@link Exchange}.
 */
export class Forwarder {
  private readonly ctx: ExchangeContext;

  constructor(parts: ForwardingParts) {
    const { axios } = parts;
    this.ctx = { ...parts, pipeline: new AxiosPipeline(axios), direct: () => !axiosChangesRequests(axios) };
  }

  handle(req: Request, res: Response, next: NextFunction): void {
    if (req.method === 'CONNECT') {
      next(new BadRequestError('CONNECT is not forwarded by express-load-balance'));
      return;
    }
    const { config } = this.ctx;
    let relative: string | undefined;
    try {
      relative = this.upstreamRelative(req);
    } catch (err) {
      next(err);
      return;
    }
    if (relative === undefined) {
      next(new BadRequestError('request path climbs above its root'));
      return;
    }
    const max = config.maxBodySize;
    // Node's parser has already refused a Content-Length that is not a number or that
    // disagrees with another one, so one Number() is enough.
    if (max !== Infinity && req.readableEnded === false && Number(req.headers['content-length']) > max) {
      this.refuseBody(req, res, next);
      return;
    }
    const choice = this.ctx.selector.choose(req);
    if (choice.refused === undefined) {
      this.forward(req, res, next, relative, choice.target);
      return;
    }
    const { queue } = this.ctx;
    if (choice.canWait && queue !== undefined && this.wait(queue, req, res, next, relative)) return;
    if (log.forward.enabled) log.forward('%s %s refused: %s', req.method, req.originalUrl, choice.refused.message);
    next(choice.refused);
  }

  /**
   * No target can take the request now: it waits in the queue for a slot or a target,
   * unless the queue is full (false). A client that leaves is taken out at once, and
   * nothing is sent upstream for it.
   */
  private wait(queue: WaitQueue, req: Request, res: Response, next: NextFunction, relative: string): boolean {
    const { selector } = this.ctx;
    const onClose = (): void => cancel?.();
    const cancel = queue.wait({
      req,
      kind: 'admission',
      next: () => selector.choose(req).target,
      go: (target) => {
        res.off('close', onClose);
        this.forward(req, res, next, relative, target);
      },
      giveUp: (result) => {
        res.off('close', onClose);
        if (result === 'closed') res.setHeader('Connection', 'close');
        next(result === 'closed' ? new NoTargetError('express-load-balance: the balancer is closed') : queue.timeoutError());
      },
    });
    if (cancel === undefined) return false;
    if (log.forward.enabled) log.forward('%s %s waits in the queue (%d waiting)', req.method, req.originalUrl, queue.length);
    res.once('close', onClose);
    return true;
  }

  /** Sends the request to `target`: its body and headers, in an exchange. */
  private forward(req: Request, res: Response, next: NextFunction, relative: string, target: TargetState): void {
    const { config } = this.ctx;
    const max = config.maxBodySize;
    if (log.forward.enabled) log.forward('%s %s -> %s', req.method, req.originalUrl, target.url);
    const body = requestBody(req, config.resilience.retryBufferSize, max);
    if (Buffer.isBuffer(body) && body.length > max) {
      this.refuseBody(req, res, next);
      return;
    }
    const headers = upstreamRequestHeaders(req, target, config.preserveHost, config.xForwarded);
    // Only a body still unread can be waiting for `100 Continue`.
    if (req.headers.expect !== undefined && body instanceof StreamedBody) continueIfAwaited(res);
    if (Buffer.isBuffer(body)) {
      // A parser already read the stream: the re-serialised body has its own length,
      // and body-parser undid any Content-Encoding.
      headers['content-length'] = String(body.length);
      delete headers['content-encoding'];
    }
    // Before the exchange starts: the copy reads the headers as they are now, and tees
    // a streamed body before its first chunk flows.
    const { mirror } = this.ctx;
    if (mirror !== undefined) mirror.copy(req, relative, body, headers);
    new Exchange(this.ctx, req, res, next, { target, relative, body, headers }).start();
  }

  /**
   * The path and query sent upstream, relative to the target's base path: the client's,
   * through `pathRewrite`, whose result is sanitised again so that a rewrite can never
   * name a host. `undefined` when it climbs above the root; throws what a rewrite threw.
   */
  private upstreamRelative(req: Request): string | undefined {
    const { pathRewrite, encodedSlashes } = this.ctx.config;
    const relative = relativePath(req.url, encodedSlashes);
    if (relative === undefined || pathRewrite === undefined) return relative;
    const rewritten: unknown = pathRewrite(relative, req);
    if (typeof rewritten !== 'string') {
      throw new TypeError(`express-load-balance: pathRewrite must return a string synchronously, got ${typeof rewritten}`);
    }
    return relativePath(rewritten, encodedSlashes);
  }

  /** 413 without reading the body, answered at once: see {@link leaveBodyUnread}. */
  private refuseBody(req: Request, res: Response, next: NextFunction): void {
    const max = this.ctx.config.maxBodySize;
    leaveBodyUnread(req, res);
    next(new PayloadTooLargeError(`request body exceeds maxBodySize (${max} bytes)`, max));
  }
}
