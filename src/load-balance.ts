import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AxiosInstance } from 'axios';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Balancer } from './balancer';
import type { Listener, LoadBalanceEvents } from './observability/events';
import { STRATEGIES } from './balancing/strategies';
import { MESSAGES } from './options/messages';
import { normalizeOptions } from './options/normalize';
import { statusPageConfig } from './options/status-page';
import type { CloseOptions, LoadBalanceOptions, StatusPageOptions, TargetInput } from './options/types';
import { refuse } from './options/validate';
import type { TargetSnapshot } from './balancing/target-views';
import { systemRuntime, type Runtime } from './clock';
import type { BalancerStats } from './observability/stats';
import { statusHandler } from './observability/status-page';
import type { Strategy, StrategyFactory, StrategyFunction, StrategyName } from './balancing/strategies/types';

/**
 * The middleware `loadBalance()` returns: use it with `app.use(path, lb)`; the extra
 * methods manage the balancer behind it.
 * @public
 */
export interface LoadBalanceMiddleware extends RequestHandler {
  (req: Request, res: Response, next: NextFunction): void;
  /**
   * Stops the balancer. From the call on, new requests and upgrades get a 503
   * `ELB_NO_TARGET` with `Connection: close`, so keep-alive clients move to another
   * instance.
   *
   * Without `drain`, it frees pooled sockets, stops probes and DNS lookups and ends open
   * WebSocket connections at once; requests still in flight fail with their connections.
   *
   * With `drain` (ms), requests in flight first finish normally, for at most that long,
   * and open WebSockets, which never finish by themselves, stay open until then. At the
   * deadline, what is left is cut short: the client's connection is broken, as when an
   * upstream fails mid-answer. Then everything is freed as above. The promise resolves
   * once that is done: as soon as the last request in flight has finished, at the latest
   * just after the deadline.
   *
   * Idempotent: a later call returns the same promise. A bad `options` rejects the
   * promise with a `TypeError` and closes nothing.
   *
   * @example
   * ```ts
   * // Kubernetes sends SIGTERM, then SIGKILL after terminationGracePeriodSeconds (30 s).
   * process.once('SIGTERM', async () => {
   *   server.close(); // no new connections
   *   await lb.close({ drain: 25_000 }); // requests in flight finish, for at most 25 s
   *   process.exit(0);
   * });
   * ```
   */
  close(options?: CloseOptions): Promise<void>;
  /** Subscribes to an event; a listener that throws never breaks a request. */
  on<K extends keyof LoadBalanceEvents>(name: K, listener: Listener<K>): LoadBalanceMiddleware;
  /** Removes a listener added with `on`. */
  off<K extends keyof LoadBalanceEvents>(name: K, listener: Listener<K>): LoadBalanceMiddleware;
  /**
   * A snapshot of every current target: `url`, `weight`, `inFlight`, `requests`,
   * `failures`, `ewmaMs`, `healthy`. Targets being drained after removal are not listed.
   */
  targets(): TargetSnapshot[];
  /**
   * Counters, health and latency of every current target, and totals: lifetime
   * `requests` and `failures`, `inFlight`, and over the last minute (`recent`) the
   * attempts that ended, their share of traffic and latency p50/p95/p99 in ms; with
   * the `queue` and `mirror` options, their figures too. Cheap enough to call on every
   * request.
   *
   * @example
   * const { totals } = lb.stats();
   * console.log(totals.recent.latency.p99, totals.usable, '/', totals.targets);
   */
  stats(): BalancerStats;
  /**
   * An Express handler for a status page, like nginx's upstream status: JSON (what
   * {@link LoadBalanceMiddleware.stats} returns) by default, and for a browser
   * (`Accept: text/html`) a self-contained HTML table of the targets with their state,
   * share of traffic, latency p50/p99 and requests in flight, and for each target and
   * in total, charts of requests per second and p99 latency over each of the last 60
   * seconds. The page reloads itself every `refresh` seconds (default 5) and runs no
   * script. Answers GET and HEAD. The page lists the upstream addresses: mount it where
   * only operators reach it. A bad `options` throws a `TypeError`.
   *
   * @example
   * app.get('/lb-status', requireAdmin, lb.statusHandler({ refresh: 10 }));
   */
  statusHandler(options?: StatusPageOptions): RequestHandler;
  /**
   * Adds a target while the balancer runs; it can take the very next request. Checked
   * like the `targets` option: a `TypeError` for an invalid URL or weight, or for a URL
   * that is already a target.
   *
   * @example
   * lb.addTarget({ url: 'http://10.0.0.7:3000', weight: 2 });
   */
  addTarget(target: TargetInput): void;
  /**
   * Removes a target while the balancer runs: it gets no new request from this moment
   * (sticky clients included), and the promise resolves once its in-flight requests
   * have finished. Rejects with a `TypeError` when `target` is not a current target.
   *
   * @example
   * await lb.removeTarget('http://10.0.0.5:3000'); // safe to stop that server now
   */
  removeTarget(target: TargetInput): Promise<void>;
  /**
   * Resolves once the balancer has targets: at once with a targets array; with
   * {@link dnsTargets}, after the first DNS answer that named some (requests before it
   * get a 503 `ELB_NO_TARGET`). Rejects if `close()` is called first.
   *
   * @example
   * await lb.ready();
   * app.listen(8080);
   */
  ready(): Promise<void>;
  /**
   * Forwards a WebSocket upgrade request to a target: a handler for the server's
   * `upgrade` event. Targets, strategy, health and the sticky cookie are the same as for
   * HTTP requests; the connection counts in its target's `inFlight` until either side
   * closes it.
   *
   * Every upgrade it is given is forwarded, so filter by path first. The path sent
   * upstream is the target's base path followed by `req.url` as the server saw it (there
   * is no mount path to strip here); the host always comes from the target. When no
   * target can take it, the client gets a 503, and when the target fails the handshake,
   * a 502 (504 after `timeout` ms); the `error` event tells you, with `upgradeReq`.
   *
   * The request is Node's own, not Express's: a custom strategy or `hashKey` sees no
   * `req.ip` or `req.get()` (the default `hashKey` uses the socket's address), and
   * X-Forwarded-* claims from the client are not trusted unless `xForwarded: 'append'`,
   * as there is no app `trust proxy` setting to go by.
   *
   * @example
   * ```ts
   * const lb = loadBalance(['http://127.0.0.1:3000', 'http://127.0.0.1:3001']);
   * app.use('/api', lb);
   * const server = app.listen(8080);
   * server.on('upgrade', (req, socket, head) => {
   *   if (req.url?.startsWith('/api/')) lb.upgrade(req, socket, head);
   *   else socket.destroy();
   * });
   * ```
   */
  upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  /**
   * The axios instance that sends upstream requests: built from the `axios` option
   * when given (never that instance itself). Add interceptors here; a request
   * interceptor may set headers, while `config.url` and the like are informative only,
   * as the balancer decides where a request goes. A response interceptor must hand the
   * response on with its `data` stream unread.
   */
  readonly axios: AxiosInstance;
}

/**
 * Creates an Express middleware that spreads requests over `targets`.
 *
 * The upstream path is the target's base path followed by `req.url`, which Express has
 * already stripped of the mount path: with `app.use('/api', lb)` and a target
 * `http://h:3000/v1`, `GET /api/users?x=1` goes to `http://h:3000/v1/users?x=1`.
 *
 * Invalid options throw a `TypeError` naming the option. Upstream failures reach
 * `next(err)` as {@link BadGatewayError} (502) or {@link GatewayTimeoutError} (504).
 *
 * Tracing: with OpenTelemetry's Node SDK and its HTTP instrumentation set up, each
 * attempt (retries included) is a client span, child of the request's server span, and
 * the upstream gets that span's `traceparent` in place of the client's. When
 * `@opentelemetry/api` is installed (an optional peer), the balancer adds the attributes
 * `express_load_balance.target` (the target's URL), `express_load_balance.attempt` (1, 2,
 * ...) and `express_load_balance.strategy` to each of those spans. Without an active span,
 * `traceparent` and `tracestate` are forwarded like any other header.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { loadBalance } from 'express-load-balance';
 *
 * const app = express();
 * app.use('/api', loadBalance({ targets: ['http://127.0.0.1:3000', 'http://127.0.0.1:3001'] }));
 * app.listen(8080);
 * ```
 * @public
 */
export function loadBalance(options: LoadBalanceOptions): LoadBalanceMiddleware;
/** Shorthand: `loadBalance(targets, strategy?)`. */
export function loadBalance(targets: readonly TargetInput[], strategy?: StrategyName | StrategyFunction | Strategy): LoadBalanceMiddleware;
export function loadBalance(
  optionsOrTargets: LoadBalanceOptions | readonly TargetInput[],
  strategy?: StrategyName | StrategyFunction | Strategy,
): LoadBalanceMiddleware {
  let options: unknown = optionsOrTargets;
  if (Array.isArray(optionsOrTargets)) {
    options = strategy === undefined ? { targets: optionsOrTargets } : { targets: optionsOrTargets, strategy };
  } else if (strategy !== undefined) {
    refuse(MESSAGES.shorthand);
  }
  return middlewareOf(new Balancer(normalizeOptions(options, STRATEGIES), systemRuntime));
}

/**
 * `loadBalance(options)` on another clock and random source, and optionally another
 * table of strategies by name: tests drive a whole balancer on a fake clock with it.
 * Not part of the public API.
 * @internal
 */
export function loadBalanceOn(
  runtime: Runtime,
  options: LoadBalanceOptions,
  strategies: Readonly<Record<string, StrategyFactory>> = STRATEGIES,
): LoadBalanceMiddleware {
  return middlewareOf(new Balancer(normalizeOptions(options, strategies), runtime));
}

function middlewareOf(balancer: Balancer): LoadBalanceMiddleware {
  const middleware = ((req: Request, res: Response, next: NextFunction) => balancer.handle(req, res, next)) as LoadBalanceMiddleware;
  return Object.assign(middleware, {
    close: (options?: CloseOptions) => balancer.close(options),
    on<K extends keyof LoadBalanceEvents>(name: K, listener: Listener<K>) {
      balancer.events.on(name, listener);
      return middleware;
    },
    off<K extends keyof LoadBalanceEvents>(name: K, listener: Listener<K>) {
      balancer.events.off(name, listener);
      return middleware;
    },
    targets: () => balancer.targets(),
    stats: () => balancer.stats(),
    statusHandler: (options?: StatusPageOptions) =>
      statusHandler(
        () => balancer.stats(),
        () => balancer.history(),
        statusPageConfig(options),
      ),
    addTarget: (target: TargetInput) => balancer.addTarget(target),
    removeTarget: (target: TargetInput) => balancer.removeTarget(target),
    ready: () => balancer.ready(),
    upgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => balancer.upgrade(req, socket, head),
    axios: balancer.axios,
  });
}
