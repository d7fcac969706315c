import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Request } from 'express';
import { createProxyMiddleware, type Options, type Plugin, type RequestHandler } from 'http-proxy-middleware';
import type { AttemptLifecycle } from '../balancing/attempts';
import type { Choice, TargetSelector } from '../balancing/selection';
import type { TargetState } from '../balancing/target';
import { BadRequestError, NoTargetError, type LoadBalanceError } from '../errors';
import { upstreamRequestHeaders } from '../forwarding/headers';
import type { Deadlines } from '../forwarding/transport';
import { joinBasePath, relativePath } from '../forwarding/upstream-path';
import type { Events } from '../observability/events';
import type { BalancerConfig } from '../options/config';
import { closeAfterFlush, HandshakeTimeout, refuse, Tunnel, type TunnelOwner } from './tunnel';

/** What the WebSocket proxy needs from its balancer. */
export interface UpgradeContext {
  readonly config: BalancerConfig;
  readonly selector: TargetSelector;
  readonly lifecycle: AttemptLifecycle;
  readonly events: Events;
  readonly deadlines: Deadlines;
  /** True once `close()` was called: new upgrades are refused. */
  closed(): boolean;
}

/** RFC 6455 §4.1: the Upgrade header names the "websocket" protocol, in any case. */
const WEBSOCKET = /^\s*websocket\s*$/i;

/** Every upgrade we are handed is ours to forward: users filter by path before calling. */
const EVERY_PATH = (): boolean => true;

/** The TLS settings http-proxy takes from a target for its upstream request (its setupOutgoing copies these). */
const TARGET_TLS_KEYS = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'ciphers', 'secureProtocol'] as const;
type TargetTls = Partial<Record<(typeof TARGET_TLS_KEYS)[number], unknown>>;

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
export class UpgradeProxy implements TunnelOwner {
  private readonly proxy: RequestHandler;
  private readonly tunnels = new WeakMap<IncomingMessage, Tunnel>();
  /** Tunnels holding a slot, so `close()` can end them. */
  private readonly open = new Set<Tunnel>();
  /**
   * The TLS settings of the user's `axios.httpsAgent` (a private CA, a client
   * certificate), for WebSocket upstreams over TLS: http-proxy uses no agent of ours.
   */
  private readonly tls: TargetTls;

  constructor(private readonly ctx: UpgradeContext) {
    const agentTls = ctx.config.axios.httpsAgent?.options;
    const tls: TargetTls = {};
    for (const key of TARGET_TLS_KEYS) if (agentTls?.[key] !== undefined) tls[key] = agentTls[key];
    this.tls = tls;
    this.proxy = createProxyMiddleware({
      ws: true,
      // http-proxy's name for rejectUnauthorized: the agent's, or Node's default (true).
      secure: agentTls?.rejectUnauthorized !== false,
      pathFilter: EVERY_PATH,
      router: (req: IncomingMessage) => this.route(req),
      // Its default plugins log, and answer an upstream failure by destroying the client
      // socket without a word; ours answer 502 and keep the counts.
      ejectPlugins: true,
      plugins: [(server) => this.listen(server)],
    });
  }

  get deadlines(): Deadlines {
    return this.ctx.deadlines;
  }

  handle(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    // Until the proxy takes over, a client that resets must not become an uncaught
    // 'error': the server stops watching an upgraded socket's errors.
    socket.on('error', () => this.tunnels.get(req)?.destroy());
    if (this.ctx.closed()) {
      this.reject(req, socket, new NoTargetError('express-load-balance: the balancer is closed'));
      return;
    }
    if (req.method !== 'GET' || !WEBSOCKET.test(req.headers.upgrade ?? '')) {
      // http-proxy would drop such a socket without a word (h2c, say, or a POST).
      this.reject(req, socket, new BadRequestError('only WebSocket upgrades (GET, Upgrade: websocket) are forwarded'));
      return;
    }
    const relative = relativePath(req.url ?? '/', this.ctx.config.encodedSlashes);
    if (relative === undefined) {
      this.reject(req, socket, new BadRequestError('upgrade request path climbs above its root'));
      return;
    }
    // The built-in strategies, the sticky lookup and the header builder read only headers
    // and the socket, which Node's request has; a custom strategy or hashKey is told in
    // lb.upgrade's docs that it gets no Express additions, and one that throws is caught.
    const expressLike = req as Request;
    let choice: Choice;
    try {
      choice = this.ctx.selector.choose(expressLike);
    } catch (thrown) {
      const cause = thrown instanceof Error ? thrown : new Error(String(thrown));
      this.reject(req, socket, new NoTargetError(`the strategy threw: ${cause.message}`, { cause }));
      return;
    }
    const { target, refused } = choice;
    if (refused !== undefined) {
      this.reject(req, socket, refused);
      return;
    }
    const { config } = this.ctx;
    const headers = upstreamRequestHeaders(expressLike, target, config.preserveHost, config.xForwarded);
    delete headers['content-type'];
    // Upgrade and Connection are hop-by-hop, dropped above; for this hop they are the point.
    headers.connection = 'Upgrade';
    if (req.headers.upgrade !== undefined) headers.upgrade = req.headers.upgrade;

    const path = joinBasePath(target.basePath, relative);
    const attempt = this.ctx.lifecycle.begin(target, expressLike);
    attempt.sent(path, 1);
    const tunnel = new Tunnel(this, req, socket, attempt, path, headers);
    this.tunnels.set(req, tunnel);
    this.open.add(tunnel);
    socket.once('close', () => this.clientClosed(tunnel));
    tunnel.watchClient();
    // http-proxy builds its path from req.url: give it the safe one (the exact path is
    // set on the outgoing request below, as http-proxy also squeezes "//" inside it).
    req.url = relative;
    // It also opens the upstream connection with the client's headers (ours replace them
    // once the request exists), and Node takes the TLS server name from their Host: for a
    // target found in DNS, make that the name DNS gave, as for HTTP.
    if (target.serverName !== undefined) req.headers.host = target.serverName;
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
    const address = {
      protocol: target.protocol,
      host: target.hostname,
      hostname: target.hostname,
      port: String(target.port),
      path: target.basePath,
    };
    return target.protocol === 'https:' ? { ...address, ...this.tls } : address;
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
      proxyReq.setTimeout(this.ctx.deadlines.timeout, () => proxyReq.destroy(new HandshakeTimeout()));
      // Registered before http-proxy's own listeners, so these run first.
      proxyReq.once('upgrade', (_res: IncomingMessage, upstreamSocket: Socket) => {
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
