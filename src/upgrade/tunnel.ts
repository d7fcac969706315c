import type { ClientRequest, IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Attempt } from '../balancing/attempts';
import type { TargetState } from '../balancing/target';
import { type LoadBalanceError, SaturatedError } from '../errors';
import type { UpstreamHeaders } from '../forwarding/headers';
import type { Deadlines } from '../forwarding/transport';
import { upstreamError } from '../forwarding/upstream-errors';

/** What a tunnel needs from the WebSocket proxy that opened it. */
export interface TunnelOwner {
  /** The handshake's deadlines: `timeout` for the answer. */
  readonly deadlines: Deadlines;
  /** Emits `error` for a failed upgrade. */
  reportError(error: LoadBalanceError, req: IncomingMessage, target?: TargetState): void;
  /** The tunnel gave its slot back: it no longer needs ending on `close()`. */
  forget(tunnel: Tunnel): void;
}

/**
 * Bytes a client may send before the upstream answers its handshake. RFC 6455 §4.1 has
 * it wait for the answer, so this is only slack for a pipelining client; past it, the
 * connection is dropped rather than buffered without bound.
 */
const MAX_EARLY_BYTES = 64 * 1024;

/** Marks the handshake timeout so the client is told 504, not 502. */
export class HandshakeTimeout extends Error {}

/**
 * Answers an upgrade we will not forward and closes the connection once the answer is
 * flushed: an upgrade has no response object, and a half-closed socket left to the
 * client would hold the connection open for as long as the client likes.
 */
export function refuse(socket: Duplex, error: LoadBalanceError): void {
  if (socket.destroyed) return;
  const retryAfter = error instanceof SaturatedError ? `Retry-After: ${error.headers['Retry-After']}\r\n` : '';
  socket.once('finish', () => socket.destroy());
  socket.end(`HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n${retryAfter}\r\n`);
}

/** Ends a socket, then destroys it once what was written is flushed. */
export function closeAfterFlush(socket: Duplex): void {
  if (socket.destroyed) return;
  if (socket.writableFinished) {
    socket.destroy();
    return;
  }
  socket.once('finish', () => socket.destroy());
  socket.end();
}

/**
 * One upgrade request on its way to a target, then the connection between them. Its
 * attempt holds one in-flight slot on the target from the moment it is chosen until
 * either side closes, so least-connections sees long-lived sockets; the attempt ends
 * once, with the handshake's outcome and duration.
 */
export class Tunnel {
  /** The upstream answered (101 or otherwise) or failed: the outcome is known. */
  answered = false;
  proxyReq: ClientRequest | undefined;
  upstreamSocket: Socket | undefined;
  /** The upstream's answer to the handshake, once there is one. */
  private status: number | undefined;
  private failed = false;
  /** What the client sent before the answer, for the upstream once it switches. */
  private early: Buffer[] | undefined = [];
  private earlyBytes = 0;

  constructor(
    private readonly owner: TunnelOwner,
    readonly req: IncomingMessage,
    readonly socket: Duplex,
    private readonly attempt: Attempt,
    /** Path and query sent upstream, base path included. */
    readonly path: string,
    readonly headers: UpstreamHeaders,
  ) {}

  get target(): TargetState {
    return this.attempt.target;
  }

  /** The slot was given back: the tunnel is closed, or closing. */
  get released(): boolean {
    return this.attempt.ended;
  }

  /**
   * Reads the client socket until the upstream answers. Node leaves an upgraded socket
   * unread, and a socket nobody reads never reports that its peer left: the target's
   * slot would then wait for the handshake timeout.
   */
  watchClient(): void {
    this.socket.on('data', this.onEarlyData);
    this.socket.once('end', this.onEarlyEnd);
  }

  private readonly onEarlyData = (chunk: Buffer): void => {
    const { early } = this;
    if (early === undefined) return;
    this.earlyBytes += chunk.length;
    if (this.earlyBytes > MAX_EARLY_BYTES) this.destroy();
    else early.push(chunk);
  };

  private readonly onEarlyEnd = (): void => {
    if (!this.answered) this.destroy();
  };

  /** The upstream switched: what the client sent so far goes back for http-proxy's pipe. */
  switched(): void {
    this.socket.off('data', this.onEarlyData);
    this.socket.off('end', this.onEarlyEnd);
    this.socket.pause();
    const early = this.early;
    this.early = undefined;
    if (early !== undefined && early.length > 0) this.socket.unshift(Buffer.concat(early));
  }

  /** The upstream answered the handshake (`status` 101 when it switched protocols). */
  answer(status: number): void {
    if (this.answered) return;
    this.early = undefined;
    this.answered = true;
    this.status = status;
    this.attempt.stopClock();
  }

  /** The handshake failed before any answer: the client is told 502 (504 on timeout). */
  fail(cause: unknown): void {
    if (this.released || this.answered) {
      // After the handshake a failing socket just ends the session.
      this.destroy();
      return;
    }
    this.answered = true;
    this.failed = true;
    this.attempt.stopClock();
    const { target } = this;
    const phase = cause instanceof HandshakeTimeout ? 'timeout' : 'sent';
    const error = upstreamError(target.url, phase, this.owner.deadlines, cause, 'upgrade');
    this.owner.reportError(error, this.req, target);
    refuse(this.socket, error);
    this.release();
  }

  /** Closes both sides now. */
  destroy(): void {
    this.proxyReq?.destroy();
    this.upstreamSocket?.destroy();
    this.socket.destroy();
    this.release();
  }

  /** Gives the target's slot back by ending the attempt, once. */
  release(): void {
    if (this.released) return;
    this.owner.forget(this);
    const { status } = this;
    if (this.failed) this.attempt.end({ result: 'error', status });
    else if (status === undefined) this.attempt.end({ result: 'aborted' });
    else this.attempt.end({ result: 'response', status });
  }
}
