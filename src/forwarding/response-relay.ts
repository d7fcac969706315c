import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import type { Attempt } from '../balancing/attempts';
import { StreamedBody, type RequestBody } from './body';

/**
 * Streams an upstream answer, whose head is already on the client response, to the
 * client, and ends its attempt by how the stream ended: the whole answer delivered, the
 * upstream breaking off, or the client leaving first.
 *
 * pipe() rather than pipeline(): the same flow for a fraction of the cost (pipeline
 * builds an AbortController per call on Node 20), with the failure handling spelled out
 * here.
 */
export class ResponseRelay {
  private readonly status: number;

  constructor(
    private readonly attempt: Attempt,
    private readonly upstream: IncomingMessage,
    private readonly res: Response,
    /** The request body, which may have been cut for outgrowing `maxBodySize`. */
    private readonly body: RequestBody,
    /** The pause the answer asked for with `Retry-After`, if any. */
    private readonly retryAfterMs: number | undefined,
  ) {
    this.status = upstream.statusCode ?? 0;
    upstream.on('error', this.onBodyError);
    upstream.once('close', this.onBodyClose);
    res.once('finish', this.onFinish);
    upstream.pipe(res);
  }

  /** The client went away mid-answer: says nothing about the target. */
  clientLeft(): void {
    this.attempt.end({ result: 'aborted', status: this.status });
  }

  private readonly onFinish = (): void => {
    this.attempt.end({ result: 'response', status: this.status, retryAfterMs: this.retryAfterMs });
  };

  /**
   * The upstream body broke off. The client response is destroyed, so the client sees a
   * broken response rather than one that merely looks short.
   */
  private readonly onBodyError = (): void => {
    if (this.attempt.ended) return;
    this.res.destroy();
    // When this side cut the upstream request because the client sent too much, the
    // target is not to blame.
    const cut = this.body instanceof StreamedBody && this.body.tooLarge !== undefined;
    this.attempt.end({ result: cut ? 'aborted' : 'error', status: this.status });
  };

  /** Node reports most broken bodies as 'error'; a close before the end is one too. */
  private readonly onBodyClose = (): void => {
    if (!this.upstream.complete) this.onBodyError();
  };
}
