import type { ClientRequest, IncomingMessage } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { BadGatewayError, GatewayTimeoutError, type LoadBalanceError, SaturatedError } from '../errors';
import type { UpstreamHeaders } from '../forwarding/headers';
import type { TargetState } from '../balancing/pool';
import type { UpgradeContext } from './upgrade-proxy';

/** What a tunnel needs from the WebSocket proxy that opened it. */
export interface TunnelOwner {
  readonly ctx: UpgradeContext;
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
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n${retryAfter}\r\n`,
  );
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
 * One upgrade request on its way to a target, then the connection between them. Holds
 * one in-flight slot on the target from the moment it is chosen until either side
 * closes, so least-connections sees long-lived sockets; the slot is given back once.
 */
export class Tunnel {
  /** The upstream answered (101 or otherwise) or failed: outcome recorded. */
  answered = false;
  released = false;
  proxyReq: ClientRequest | undefined;
  upstreamSocket: Socket | undefined;
  private readonly startedAt = performance.now();
  private handshakeMs = 0;
  private status: number | undefined;
  private ok = true;
  /** What the client sent before the answer, for the upstream once it switches. */
  private early: Buffer[] | undefined = [];
  private earlyBytes = 0;

  constructor(
    private readonly owner: TunnelOwner,
    readonly req: IncomingMessage,
    readonly socket: Duplex,
    readonly target: TargetState,
    /** Path and query sent upstream, base path included. */
    readonly path: string,
    readonly headers: UpstreamHeaders,
  ) {}

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
    this.handshakeMs = performance.now() - this.startedAt;
    this.status = status;
    this.owner.ctx.outliers?.record(this.target, status >= 500);
  }

  /** The handshake failed before any answer: the client is told 502 (504 on timeout). */
  fail(cause: unknown): void {
    if (this.released || this.answered) {
      // After the handshake a failing socket just ends the session.
      this.destroy();
      return;
    }
    this.answered = true;
    this.ok = false;
    this.handshakeMs = performance.now() - this.startedAt;
    const { target } = this;
    target.failures++;
    this.owner.ctx.outliers?.record(target, true);
    const error =
      cause instanceof HandshakeTimeout
        ? new GatewayTimeoutError(`${target.url} did not accept the WebSocket within ${this.owner.ctx.timeout} ms`, target.url, { cause })
        : new BadGatewayError(`${target.url} failed the WebSocket upgrade: ${cause instanceof Error ? cause.message : String(cause)}`, target.url, {
            cause,
          });
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

  /**
   * Gives the target's slot back and tells the strategy, once. The duration reported is
   * the handshake's: a session's length says nothing about how fast the target is, and
   * peak-EWMA would take a long chat for a slow upstream.
   */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.forget(this);
    const { target } = this;
    target.inFlight--;
    if (!this.answered) this.handshakeMs = performance.now() - this.startedAt;
    this.owner.ctx.strategy.onEnd?.(target, { ok: this.ok, status: this.status, durationMs: this.handshakeMs });
  }
}
