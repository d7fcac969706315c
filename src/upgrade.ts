import { type ClientRequest, type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Request } from 'express';
import { createProxyMiddleware, type Options, type Plugin, type RequestHandler } from 'http-proxy-middleware';
import { BadGatewayError, BadRequestError, GatewayTimeoutError, LoadBalanceError, NoTargetError, SaturatedError } from './errors';
import type { Events } from './events';
import type { OutlierDetection } from './health/passive';
import { upstreamRequestHeaders, type UpstreamHeaders } from './headers';
import type { XForwardedMode } from './options';
import type { TargetState } from './pool';
import type { Strategy } from './strategies/types';
import { joinBasePath, relativePath } from './upstream-path';

/** What the WebSocket proxy needs from its balancer. */
export interface UpgradeContext {
  readonly strategy: Strategy<TargetState>;
  readonly events: Events;
  readonly outliers: OutlierDetection | undefined;
  readonly timeout: number;
  readonly preserveHost: boolean;
  readonly xForwarded: XForwardedMode;
  /** True once `close()` was called: new upgrades are refused. */
  readonly closed: boolean;
  /** The sticky or strategy pick among available targets, as for HTTP requests. */
  choose(req: Request): TargetState | LoadBalanceError;
}

/** RFC 6455 §4.1: the Upgrade header names the "websocket" protocol, in any case. */
const WEBSOCKET = /^\s*websocket\s*$/i;

/** Every upgrade we are handed is ours to forward: users filter by path before calling. */
const EVERY_PATH = (): boolean => true;

/**
 * Bytes a client may send before the upstream answers its handshake. RFC 6455 §4.1 has
 * it wait for the answer, so this is only slack for a pipelining client; past it, the
 * connection is dropped rather than buffered without bound.
 */
const MAX_EARLY_BYTES = 64 * 1024;

/** Marks the handshake timeout so the client is told 504, not 502. */
class HandshakeTimeout extends Error {}

/**
 * Answers an upgrade we will not forward and closes the connection once the answer is
 * flushed: an upgrade has no response object, and a half-closed socket left to the
 * client would hold the connection open for as long as the client likes.
 */
function refuse(socket: Duplex, error: LoadBalanceError): void {
  if (socket.destroyed) return;
  const retryAfter = error instanceof SaturatedError ? `Retry-After: ${error.headers['Retry-After']}\r\n` : '';
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${error.status} ${STATUS_CODES[error.status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n${retryAfter}\r\n`,
  );
}

/** Ends a socket, then destroys it once what was written is flushed. */
function closeAfterFlush(socket: Duplex): void {
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
class Tunnel {
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
    private readonly owner: UpgradeProxy,
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

/**
 * `lb.upgrade`: balances WebSocket upgrade requests over the balancer's targets with
 * http-proxy-middleware's WebSocket proxy. We call its `upgrade` handler ourselves, so it
 * works from the very first upgrade; used as middleware it would subscribe to the
 * server's `upgrade` event only once an HTTP request had reached it.
 *
 * The target is chosen here, before the proxy runs, so a refusal is a proper HTTP
 * answer on the socket; the proxy's `router` asks for that choice. The upstream host and
 * port come from the target only, and the path from {@link relativePath}, as for HTTP.
 */
export class UpgradeProxy {
  private readonly proxy: RequestHandler;
  private readonly tunnels = new WeakMap<IncomingMessage, Tunnel>();
  /** Tunnels holding a slot, so `close()` can end them. */
  private readonly open = new Set<Tunnel>();

  constructor(readonly ctx: UpgradeContext) {
    this.proxy = createProxyMiddleware({
      ws: true,
      pathFilter: EVERY_PATH,
      router: (req: IncomingMessage) => this.route(req),
      // Its default plugins log, and answer an upstream failure by destroying the client
      // socket without a word; ours answer 502 and keep the counts.
      ejectPlugins: true,
      plugins: [(server) => this.listen(server)],
    });
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Until the proxy takes over, a client that resets must not become an uncaught
    // 'error': the server stops watching an upgraded socket's errors.
    socket.on('error', () => this.tunnels.get(req)?.destroy());
    if (this.ctx.closed) {
      this.reject(req, socket, new NoTargetError('express-load-balance: the balancer is closed'));
      return;
    }
    if (req.method !== 'GET' || !WEBSOCKET.test(req.headers.upgrade ?? '')) {
      // http-proxy would drop such a socket without a word (h2c, say, or a POST).
      this.reject(req, socket, new BadRequestError('only WebSocket upgrades (GET, Upgrade: websocket) are forwarded'));
      return;
    }
    const relative = relativePath(req.url ?? '/');
    if (relative === undefined) {
      this.reject(req, socket, new BadRequestError('upgrade request path climbs above its root'));
      return;
    }
    // The built-in strategies, the sticky lookup and the header builder read only headers
    // and the socket, which Node's request has; a custom strategy or hashKey is told in
    // lb.upgrade's docs that it gets no Express additions, and one that throws is caught.
    const expressLike = req as Request;
    let target: TargetState | LoadBalanceError;
    try {
      target = this.ctx.choose(expressLike);
    } catch (thrown) {
      const cause = thrown instanceof Error ? thrown : new Error(String(thrown));
      this.reject(req, socket, new NoTargetError(`the strategy threw: ${cause.message}`, { cause }));
      return;
    }
    if (target instanceof LoadBalanceError) {
      this.reject(req, socket, target);
      return;
    }
    const headers = upstreamRequestHeaders(expressLike, target, this.ctx.preserveHost, this.ctx.xForwarded);
    delete headers['content-type'];
    // Upgrade and Connection are hop-by-hop, dropped above; for this hop they are the point.
    headers.connection = 'Upgrade';
    if (req.headers.upgrade !== undefined) headers.upgrade = req.headers.upgrade;

    const tunnel = new Tunnel(this, req, socket, target, joinBasePath(target.basePath, relative), headers);
    target.inFlight++;
    target.requests++;
    this.ctx.strategy.onStart?.(target, expressLike);
    this.tunnels.set(req, tunnel);
    this.open.add(tunnel);
    socket.once('close', () => this.clientClosed(tunnel));
    tunnel.watchClient();
    // http-proxy builds its path from req.url: give it the safe one (the exact path is
    // set on the outgoing request below, as http-proxy also squeezes "//" inside it).
    req.url = relative;
    this.proxy.upgrade(req, socket as Socket, head);
  }

  /** Ends every open WebSocket connection (for `lb.close()`). */
  close(): void {
    for (const tunnel of [...this.open]) tunnel.destroy();
  }

  forget(tunnel: Tunnel): void {
    this.open.delete(tunnel);
  }

  reportError(error: LoadBalanceError, req: IncomingMessage, target?: TargetState): void {
    if (this.ctx.events.has('error')) this.ctx.events.emit('error', { error, target, upgradeReq: req });
  }

  private reject(req: IncomingMessage, socket: Duplex, error: LoadBalanceError): void {
    this.reportError(error, req);
    refuse(socket, error);
  }

  /** http-proxy-middleware's router: the target chosen in {@link handle}. */
  private route(req: IncomingMessage): Options['target'] {
    const tunnel = this.tunnels.get(req);
    if (tunnel === undefined) return undefined;
    const { target } = tunnel;
    return { protocol: target.protocol, host: target.hostname, hostname: target.hostname, port: String(target.port), path: target.basePath };
  }

  private clientClosed(tunnel: Tunnel): void {
    if (!tunnel.answered) tunnel.proxyReq?.destroy();
    else tunnel.upstreamSocket?.destroy();
    tunnel.release();
  }

  private listen(server: Parameters<Plugin>[0]): void {
    server.on('proxyReqWs', (proxyReq, req) => {
      const tunnel = this.tunnels.get(req);
      if (tunnel === undefined || tunnel.released) {
        proxyReq.destroy();
        return;
      }
      tunnel.proxyReq = proxyReq;
      // The headers http-proxy copied from the client are replaced by ours: hop-by-hop
      // removed, X-Forwarded-* as for HTTP, Host of the target. Nothing is sent yet.
      for (const name of proxyReq.getHeaderNames()) proxyReq.removeHeader(name);
      for (const name in tunnel.headers) {
        const value = tunnel.headers[name];
        if (value !== false && value !== undefined) proxyReq.setHeader(name, value);
      }
      proxyReq.path = tunnel.path;
      proxyReq.setTimeout(this.ctx.timeout, () => proxyReq.destroy(new HandshakeTimeout()));
      // Registered before http-proxy's own listeners, so these run first.
      proxyReq.once('upgrade', (proxyRes: IncomingMessage, upstreamSocket: Socket) => {
        tunnel.upstreamSocket = upstreamSocket;
        tunnel.switched();
        tunnel.answer(101);
        upstreamSocket.once('close', () => {
          closeAfterFlush(tunnel.socket);
          tunnel.release();
        });
        if (tunnel.released) upstreamSocket.destroy();
      });
      proxyReq.once('response', (res: IncomingMessage) => {
        // No switch: http-proxy relays the answer; the connection ends after it.
        tunnel.answer(res.statusCode ?? 0);
        tunnel.socket.once('finish', () => tunnel.socket.destroy());
      });
    });
    server.on('error', (err: Error, req: IncomingMessage) => {
      this.tunnels.get(req)?.fail(err);
    });
  }
}
