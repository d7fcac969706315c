import type { IncomingMessage } from 'node:http';
import type { Response } from 'express';
import type { Attempt } from '../balancing/attempts';
import { StreamedBody, type RequestBody } from './body';

/**
 * Streams an upstream answer, whose head is already on the client response, to the
 * client, and ends its attempt by how the stream ended: the whole answer delivered, the
 * upstream breaking off, or the client leaving first.
 *
 * Chunks are written by hand rather than with pipe(), and the listeners go on the
 * upstream stream, not on `res`. Express gives every `res` another prototype
 * (`Object.setPrototypeOf` in its init middleware), after which V8 runs each property
 * store on it through its slow path: on Node 20 about 2 µs instead of 0.05, measured
 * here, and adding or removing a listener stores `_eventsCount`. pipe() adds four
 * listeners to `res` and removes them again; this adds none, bar `drain` (once) when
 * the client reads slower than the upstream sends. The end of the answer comes from the
 * exchange's one `close` listener, which Node fires after `finish` too
 * ({@link ResponseRelay.delivered}).
 */
export class ResponseRelay {
  private readonly status: number;
  /** Whether `onDrain` is on `res`: from the first time the client fell behind. */
  private drainListened = false;

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
    upstream.on('data', this.onData);
    upstream.once('end', this.onEnd);
  }

  /** The whole answer was handed to the client's connection (`res` finished). */
  delivered(): void {
    this.attempt.end({ result: 'response', status: this.status, retryAfterMs: this.retryAfterMs });
  }

  /** The client went away mid-answer: says nothing about the target. */
  clientLeft(): void {
    this.attempt.end({ result: 'aborted', status: this.status });
  }

  private readonly onData = (chunk: Buffer): void => {
    const { res } = this;
    if (res.writableEnded) {
      // Other code ended the response (a timeout middleware, say): the rest of the
      // answer has nowhere to go, and a write after the end would throw from `res`.
      this.upstream.destroy();
      return;
    }
    // Back-pressure: the upstream waits while the client's socket is full.
    if (!res.write(chunk) && !res.destroyed) {
      this.upstream.pause();
      // Added the first time and kept, as pipe() does: once() per pause would store on
      // Express's `res` twice per pause (added, then removed), each through V8's slow
      // path. `drain` only follows a write that returned false, so every one resumes a pause.
      if (!this.drainListened) {
        this.drainListened = true;
        res.on('drain', this.onDrain);
      }
    }
  };

  private readonly onDrain = (): void => {
    this.upstream.resume();
  };

  private readonly onEnd = (): void => {
    this.res.end();
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
