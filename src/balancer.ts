import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { AxiosInstance } from 'axios';
import { axiosChangesRequests, createAxios } from './forwarding/axios-instance';
import type { NextFunction, Request, Response } from 'express';
import { requestBody } from './forwarding/body';
import { DnsDiscovery } from './discovery/runner';
import { BadRequestError, LoadBalanceError, NoTargetError, PayloadTooLargeError, SaturatedError } from './errors';
import { Events } from './observability/events';
import { Exchange, type ForwardContext } from './forwarding/exchange';
import { ActiveHealthCheck } from './resilience/health-check';
import { OutlierDetection } from './resilience/outlier-detection';
import { upstreamRequestHeaders } from './forwarding/headers';
import { log } from './observability/log';
import type { BalancerConfig, XForwardedMode } from './options/config';
import { parseTarget } from './options/normalize';
import type { PathRewriteFunction } from './options/path-rewrite';
import { Pool, type TargetSnapshot, type TargetState } from './balancing/pool';
import { RetryBudget } from './resilience/retry';
import { balancerStats, type BalancerStats } from './observability/stats';
import { StickySessions } from './balancing/sticky';
import type { Strategy } from './balancing/strategies/types';
import { createTransport } from './forwarding/transport';
import { UpgradeProxy, type UpgradeContext } from './upgrade/upgrade-proxy';
import { relativePath } from './forwarding/upstream-path';

/**
 * The strategy as exchanges see it: before the balancer's strategy hears that a request
 * ended, the pool's own per-target state is brought up to date (latency estimate,
 * draining), so that happens once per request whatever strategy is in use. A custom
 * strategy's onStart/onEnd that throws is reported, like a throwing event listener:
 * it must neither break the request, nor leave the in-flight count up (a removal would
 * then wait for ever), nor escape from a stream callback and crash the process.
 */
function withPoolBookkeeping(
  strategy: Strategy<TargetState>,
  now: () => number,
  failedAsMs: number,
  report: (error: unknown, target: TargetState) => void,
): Strategy<TargetState> {
  const { onStart, onEnd } = strategy;
  return {
    pick: (targets, req) => strategy.pick(targets, req),
    onStart:
      onStart === undefined
        ? undefined
        : (target, req) => {
            try {
              onStart.call(strategy, target, req);
            } catch (error) {
              report(error, target);
            }
          },
    onEnd(target, outcome) {
      // A failure counts as slow as a timeout: a target that refuses connections answers
      // fast, and must not look like the fastest target to latency-aware balancing.
      const at = now();
      target.observeLatency(outcome.ok ? outcome.durationMs : Math.max(outcome.durationMs, failedAsMs), at);
      target.recent.record(outcome.durationMs, outcome.ok, at);
      target.requestEnded();
      if (onEnd === undefined) return;
      try {
        onEnd.call(strategy, target, outcome);
      } catch (error) {
        report(error, target);
      }
    },
  };
}

/**
 * The object behind a `loadBalance()` middleware: its pool, strategy, connection
 * pools and axios instance, all built once from the validated config.
 */
export class Balancer implements ForwardContext, UpgradeContext {
  readonly pool: Pool;
  /** What exchanges report to; {@link picker} wrapped with the pool's bookkeeping. */
  readonly strategy: Strategy<TargetState>;
  readonly events = new Events();
  readonly axios: AxiosInstance;
  readonly timeout: number;
  readonly connectTimeout: number;
  readonly retries: number;
  readonly retryOn: ReadonlySet<number>;
  readonly budget: RetryBudget;
  readonly outliers: OutlierDetection | undefined;
  readonly preserveHost: boolean;
  readonly onResponseHead: ((req: Request, res: Response, target: TargetState) => void) | undefined;
  private readonly health: ActiveHealthCheck | undefined;
  private readonly discovery: DnsDiscovery | undefined;
  private readonly maxInFlight: number;
  private readonly retryBufferSize: number;
  private readonly maxBodySize: number;
  private readonly picker: Strategy<TargetState>;
  private readonly sticky: StickySessions | undefined;
  private readonly now: () => number;
  readonly xForwarded: XForwardedMode;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly ownAgents: readonly http.Agent[];
  private readonly pathRewrite: PathRewriteFunction | undefined;
  private closing: Promise<void> | undefined;
  /** Built on the first WebSocket upgrade: apps without WebSockets never pay for it. */
  private upgrades: UpgradeProxy | undefined;

  constructor(config: BalancerConfig) {
    this.now = () => performance.now();
    this.pool = new Pool(config.targets, {
      ewmaWindow: config.ewmaWindow,
      idSecret: config.sticky?.secret ?? randomBytes(32),
    });
    this.picker = config.strategy({ random: Math.random, now: this.now, hashKey: config.hashKey });
    this.strategy = withPoolBookkeeping(this.picker, this.now, config.timeout, (error, target) => this.strategyThrew(error, target));
    const sticky = config.sticky === undefined ? undefined : new StickySessions(config.sticky);
    this.sticky = sticky;
    this.onResponseHead = sticky === undefined ? undefined : (req, res, target) => sticky.respond(req, res, target);
    this.timeout = config.timeout;
    this.preserveHost = config.preserveHost;
    this.xForwarded = config.xForwarded;
    this.pathRewrite = config.pathRewrite;
    const { resilience } = config;
    this.connectTimeout = resilience.connectTimeout;
    this.retries = resilience.retries;
    this.retryOn = resilience.retryOn;
    this.retryBufferSize = resilience.retryBufferSize;
    this.maxBodySize = config.maxBodySize;
    this.maxInFlight = resilience.maxInFlightPerTarget;
    this.budget = new RetryBudget(resilience.retryBudget.ratio, resilience.retryBudget.minPerSecond, { now: this.now });
    this.outliers =
      resilience.outlierDetection === undefined ? undefined : new OutlierDetection(resilience.outlierDetection, this.pool, this.events);
    this.health =
      resilience.healthCheck === undefined ? undefined : new ActiveHealthCheck(resilience.healthCheck, this.pool, this.events, Math.random);
    this.health?.sync();
    this.discovery =
      config.discovery === undefined
        ? undefined
        : new DnsDiscovery(config.discovery, {
            targets: () => this.pool.targets,
            add: (spec) => {
              this.pool.add(spec);
              this.health?.sync();
            },
            remove: (url) => {
              // Resolves once drained; never rejects here, as the URL is a current target.
              this.pool.remove(url).catch(() => undefined);
              this.health?.sync();
            },
          });
    // `timeout` on a keep-alive agent is how long an idle pooled socket lives; Node also
    // shortens it to one second under an upstream's `Keep-Alive: timeout=N` hint.
    const agentOptions = { keepAlive: true, timeout: config.keepAliveTimeout, scheduling: 'lifo' as const };
    this.httpAgent = config.axios.httpAgent ?? new http.Agent(agentOptions);
    this.httpsAgent = config.axios.httpsAgent ?? new https.Agent(agentOptions);
    // Agents the user gave may serve the app's own requests too: close() leaves them be.
    this.ownAgents = [this.httpAgent, this.httpsAgent].filter((agent) => agent !== config.axios.httpAgent && agent !== config.axios.httpsAgent);
    this.axios = createAxios(config.axios, createTransport(), this.httpAgent, this.httpsAgent);
  }

  handle(req: Request, res: Response, next: NextFunction): void {
    if (this.closing !== undefined) {
      next(new NoTargetError('express-load-balance: the balancer is closed'));
      return;
    }
    if (req.method === 'CONNECT') {
      next(new BadRequestError('CONNECT is not forwarded by express-load-balance'));
      return;
    }
    let relative = relativePath(req.url);
    const { pathRewrite } = this;
    if (relative !== undefined && pathRewrite !== undefined) {
      const rewritten = this.rewrite(pathRewrite, relative, req, next);
      if (rewritten === null) return;
      relative = rewritten;
    }
    if (relative === undefined) {
      next(new BadRequestError('request path climbs above its root'));
      return;
    }
    const max = this.maxBodySize;
    // Node's parser has already refused a Content-Length that is not a number or that
    // disagrees with another one, so one Number() is enough.
    if (max !== Infinity && req.readableEnded === false && Number(req.headers['content-length']) > max) {
      this.refuseBody(res, next);
      return;
    }
    const target = this.choose(req);
    if (target instanceof LoadBalanceError) {
      if (log.forward.enabled) log.forward('%s %s refused: %s', req.method, req.originalUrl, target.message);
      next(target);
      return;
    }
    if (log.forward.enabled) log.forward('%s %s -> %s', req.method, req.originalUrl, target.url);
    const body = requestBody(req, this.retryBufferSize, max);
    if (Buffer.isBuffer(body) && body.length > max) {
      this.refuseBody(res, next);
      return;
    }
    const headers = upstreamRequestHeaders(req, target, this.preserveHost, this.xForwarded);
    if (Buffer.isBuffer(body)) {
      // A parser already read the stream: the re-serialised body has its own length,
      // and body-parser undid any Content-Encoding.
      headers['content-length'] = String(body.length);
      delete headers['content-encoding'];
    }
    new Exchange(this, req, res, next, target, relative, body, headers).start();
  }

  /**
   * 413 without reading the body: the connection is closed after the answer, as Node
   * would otherwise read and discard the rest of the body to keep the connection alive.
   */
  private refuseBody(res: Response, next: NextFunction): void {
    if (!res.headersSent) res.setHeader('Connection', 'close');
    next(new PayloadTooLargeError(`request body exceeds maxBodySize (${this.maxBodySize} bytes)`, this.maxBodySize));
  }

  /**
   * The `pathRewrite` result, sanitised again so that a rewrite can never name a host;
   * `undefined` when it climbs above the root, `null` once an error went to `next`.
   */
  private rewrite(pathRewrite: PathRewriteFunction, path: string, req: Request, next: NextFunction): string | undefined | null {
    let rewritten: unknown;
    try {
      rewritten = pathRewrite(path, req);
    } catch (err) {
      next(err);
      return null;
    }
    if (typeof rewritten !== 'string') {
      next(new TypeError(`express-load-balance: pathRewrite must return a string synchronously, got ${typeof rewritten}`));
      return null;
    }
    return relativePath(rewritten);
  }

  /**
   * The client's sticky target while it can take requests, else the strategy's pick; a
   * full pick gives way to a target with room, and with none, the request is refused at
   * once (HAProxy's maxconn without its queue: a queue would only hide the overload).
   */
  choose(req: Request): TargetState | LoadBalanceError {
    const max = this.maxInFlight;
    if (this.sticky !== undefined) {
      const id = this.sticky.read(req.headers.cookie);
      const pinned = id === undefined ? undefined : this.pool.byStickyId(id);
      if (pinned !== undefined && pinned.usable && pinned.inFlight < max) return pinned;
    }
    const candidates = this.pool.available();
    const picked = candidates.length === 0 ? undefined : this.picker.pick(candidates, req);
    if (picked === undefined) return new NoTargetError('no target available');
    if (picked.inFlight < max) return picked;
    const open = candidates.filter((target) => target.inFlight < max);
    if (open.length === 0) return new SaturatedError(`every target already holds ${max} requests`, 1);
    return this.picker.pick(open, req) ?? new NoTargetError('no target available');
  }

  direct(): boolean {
    return !axiosChangesRequests(this.axios);
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    (this.upgrades ??= new UpgradeProxy(this)).handle(req, socket, head);
  }

  pickRetry(req: Request, tried: readonly TargetState[]): TargetState | undefined {
    const max = this.maxInFlight;
    const untried = (target: TargetState): boolean => target.inFlight < max && !tried.includes(target);
    let open = this.pool.available().filter(untried);
    // As in panic mode: a target health checks gave up on is still better than none.
    if (open.length === 0) open = this.pool.targets.filter(untried);
    return open.length === 0 ? undefined : this.picker.pick(open, req);
  }

  private strategyThrew(thrown: unknown, target: TargetState): void {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    if (this.events.has('error')) this.events.emit('error', { error, target });
    else process.emitWarning(error, { code: 'ELB_STRATEGY_THREW', detail: `the strategy's onStart/onEnd threw for ${target.url}` });
  }

  targets(): TargetSnapshot[] {
    const now = this.now();
    return this.pool.targets.map((target) => target.snapshot(now));
  }

  stats(): BalancerStats {
    return balancerStats(this.pool, this.now());
  }

  addTarget(input: unknown): void {
    this.pool.add(parseTarget(input, 'target', 'addTarget() argument'));
    this.health?.sync();
  }

  removeTarget(input: unknown): Promise<void> {
    let url: string;
    try {
      url = parseTarget(input, 'target', 'removeTarget() argument').url;
    } catch (err) {
      return Promise.reject(err);
    }
    const removed = this.pool.remove(url);
    this.health?.sync();
    return removed;
  }

  /** Resolves once there are targets: at once, or with discovery after its first answer that named some. */
  ready(): Promise<void> {
    return this.discovery?.ready() ?? Promise.resolve();
  }

  close(): Promise<void> {
    this.closing ??= Promise.resolve().then(() => {
      this.discovery?.close();
      this.health?.close();
      this.outliers?.close();
      for (const agent of this.ownAgents) agent.destroy();
      this.upgrades?.close();
    });
    return this.closing;
  }
}
