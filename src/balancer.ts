import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { AxiosInstance } from 'axios';
import type { NextFunction, Request, Response } from 'express';
import { AttemptLifecycle } from './balancing/attempts';
import { Pool } from './balancing/pool';
import { TargetSelector } from './balancing/selection';
import { WaitQueue } from './balancing/wait-queue';
import { StickySessions } from './balancing/sticky';
import { strategyFactory } from './balancing/strategies';
import type { TargetSnapshot } from './balancing/target-views';
import type { Clock, Runtime } from './clock';
import { DnsDiscovery } from './discovery/runner';
import { NoTargetError } from './errors';
import { createAdapter } from './forwarding/axios-adapter';
import { createAxios } from './forwarding/axios-instance';
import { Forwarder } from './forwarding/forwarder';
import { Hedging } from './forwarding/hedge-policy';
import { Mirror } from './forwarding/mirror';
import { Events } from './observability/events';
import { balancerHistory, type BalancerHistory } from './observability/history';
import { RecentLatency } from './observability/recent-latency';
import { balancerStats, type BalancerStats } from './observability/stats';
import { loadTracing } from './observability/tracing';
import type { BalancerConfig, HedgeConfig } from './options/config';
import { MESSAGES } from './options/messages';
import { parseTarget } from './options/targets';
import { milliseconds, optionObject, own, refuse } from './options/validate';
import { ActiveHealthCheck } from './resilience/health-check';
import { BackPressure } from './resilience/back-pressure';
import { OutlierDetection } from './resilience/outlier-detection';
import { RetryBudget } from './resilience/retry-budget';
import { UpgradeProxy, type UpgradeContext } from './upgrade/upgrade-proxy';

const HEDGE_QUANTILES = Object.freeze({ p90: 0.9, p95: 0.95, p99: 0.99 });

/**
 * The object behind a `loadBalance()` middleware: builds every part once from the
 * validated config and the runtime (clock, random source), wires them together, and
 * runs the balancer's own lifecycle (targets added and removed, close). Requests go to
 * the {@link Forwarder}, upgrades to the {@link UpgradeProxy}.
 */
export class Balancer {
  readonly events = new Events();
  readonly axios: AxiosInstance;
  private readonly pool: Pool;
  private readonly forwarder: Forwarder;
  private readonly upgradeContext: UpgradeContext;
  /** The attempt lifecycle the forwarder and the WebSocket proxy share: what a drain waits on. */
  private readonly lifecycle: AttemptLifecycle;
  private readonly health: ActiveHealthCheck | undefined;
  private readonly outliers: OutlierDetection | undefined;
  private readonly backPressure: BackPressure | undefined;
  private readonly queue: WaitQueue | undefined;
  private readonly hedging: Hedging | undefined;
  private readonly discovery: DnsDiscovery | undefined;
  private readonly ownAgents: readonly http.Agent[];
  /** The `mirror` option's copier, with its own connection pool. */
  private readonly mirror: Mirror | undefined;
  private readonly runtime: Runtime;
  private closing: Promise<void> | undefined;
  /** Built on the first WebSocket upgrade: apps without WebSockets never pay for it. */
  private upgrades: UpgradeProxy | undefined;

  constructor(config: BalancerConfig, runtime: Runtime) {
    const { clock, random } = runtime;
    const { resilience } = config;
    this.runtime = runtime;
    const pool = new Pool(config.targets, {
      ewmaWindow: config.ewmaWindow,
      idSecret: config.sticky?.secret ?? randomBytes(32),
      clock,
      slowStart: resilience.slowStart,
    });
    this.pool = pool;
    const strategy = strategyFactory(config.strategy)({ random, clock, hashKey: config.hashKey });
    this.outliers =
      resilience.outlierDetection === undefined ? undefined : new OutlierDetection(resilience.outlierDetection, pool, this.events, clock);
    this.backPressure = resilience.retryAfter === undefined ? undefined : new BackPressure(resilience.retryAfter, pool, this.events, clock);
    this.queue =
      resilience.queue === undefined
        ? undefined
        : new WaitQueue(resilience.queue, clock, (req, waitedMs, result) => {
            if (this.events.has('dequeue')) this.events.emit('dequeue', { req, waitedMs, result });
          });
    const queue = this.queue;
    if (queue !== undefined) pool.onChange = () => queue.wake();
    const observers = [this.outliers, this.backPressure, queue].filter((observer) => observer !== undefined);
    const lifecycle = new AttemptLifecycle(strategy, this.events, clock, config.timeout, observers);
    const sticky = config.sticky === undefined ? undefined : new StickySessions(config.sticky);
    const keyed = config.strategy.kind === 'built-in' && config.strategy.name === 'consistent-hash';
    const selector = new TargetSelector(pool, strategy, sticky, { maxInFlight: resilience.maxInFlightPerTarget, keyed, random });
    this.health =
      resilience.healthCheck === undefined ? undefined : new ActiveHealthCheck(resilience.healthCheck, pool, this.events, clock, random);
    this.health?.sync();
    this.discovery =
      config.discovery === undefined
        ? undefined
        : new DnsDiscovery(
            config.discovery,
            {
              targets: () => pool.targets,
              add: (spec) => {
                pool.add(spec);
                this.health?.sync();
              },
              remove: (url) => {
                void pool.remove(url);
                this.health?.sync();
              },
              setWeight: (url, weight) => pool.setWeight(url, weight),
              setPriority: (url, priority) => pool.setPriority(url, priority),
            },
            clock,
            (error) => {
              if (this.events.has('error')) this.events.emit('error', { error, discovery: config.discovery });
            },
          );

    // `timeout` on a keep-alive agent is how long an idle pooled socket lives; Node also
    // shortens it to one second under an upstream's `Keep-Alive: timeout=N` hint.
    const agentOptions = { keepAlive: true, timeout: config.keepAliveTimeout, scheduling: 'lifo' as const };
    const httpAgent = config.axios.httpAgent ?? new http.Agent(agentOptions);
    const httpsAgent = config.axios.httpsAgent ?? new https.Agent(agentOptions);
    // Agents the user gave may serve the app's own requests too: close() leaves them be.
    this.ownAgents = [httpAgent, httpsAgent].filter((agent) => agent !== config.axios.httpAgent && agent !== config.axios.httpsAgent);
    this.axios = createAxios(config.axios, createAdapter(), httpAgent, httpsAgent);

    const budget = new RetryBudget(resilience.retryBudget.ratio, resilience.retryBudget.minPerSecond, clock);
    const deadlines = Object.freeze({ timeout: config.timeout, connectTimeout: resilience.connectTimeout });
    this.lifecycle = lifecycle;
    this.mirror =
      config.mirror === undefined
        ? undefined
        : new Mirror(config.mirror, {
            events: this.events,
            clock,
            random,
            timeout: config.timeout,
            keepAliveTimeout: config.keepAliveTimeout,
          });
    this.hedging = Balancer.hedgingOf(resilience.hedge, pool, clock);
    this.forwarder = new Forwarder({
      config,
      axios: this.axios,
      selector,
      lifecycle,
      budget,
      events: this.events,
      clock,
      deadlines,
      sticky,
      queue,
      tracing: loadTracing(config.strategy.kind === 'built-in' ? config.strategy.name : 'custom'),
      mirror: this.mirror,
      hedging: this.hedging,
    });
    this.upgradeContext = { config, selector, lifecycle, events: this.events, deadlines, closed: () => this.closing !== undefined };
  }

  /**
   * The `hedge` option's parts: a percentile delay reads the pool's windows, and needs 50
   * attempts in them before it hedges anything (a tail percentile of fewer says little).
   */
  private static hedgingOf(config: HedgeConfig | undefined, pool: Pool, clock: Clock): Hedging | undefined {
    if (config === undefined) return undefined;
    const { delay } = config;
    const recent = typeof delay === 'number' ? undefined : new RecentLatency(() => pool.targets, HEDGE_QUANTILES[delay], 50, clock);
    return new Hedging(config, recent);
  }

  handle(req: Request, res: Response, next: NextFunction): void {
    if (this.closing !== undefined) {
      this.refuseClosed(res, next);
      return;
    }
    this.forwarder.handle(req, res, next);
  }

  upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    (this.upgrades ??= new UpgradeProxy(this.upgradeContext)).handle(req, socket, head);
  }

  targets(): TargetSnapshot[] {
    const now = this.runtime.clock.now();
    return this.pool.targets.map((target) => target.snapshot(now));
  }

  stats(): BalancerStats {
    return balancerStats(this.pool, this.runtime.clock.now(), this.queue, this.mirror, this.hedging);
  }

  /** Each second of the last minute, per target and in total: for the status page only. */
  history(): BalancerHistory {
    return balancerHistory(this.pool, this.runtime.clock.now());
  }

  addTarget(input: unknown): void {
    const spec = parseTarget(input, 'target', 'addTarget() argument');
    if (this.pool.add(spec) === undefined) refuse(MESSAGES.live.present(spec.url));
    this.health?.sync();
  }

  removeTarget(input: unknown): Promise<void> {
    let removed: Promise<void>;
    try {
      const { url } = parseTarget(input, 'target', 'removeTarget() argument');
      removed = this.pool.remove(url) ?? refuse(MESSAGES.live.absent(url));
    } catch (err) {
      const error = err as TypeError; // parseTarget and refuse throw only TypeErrors
      return Promise.reject(error);
    }
    this.health?.sync();
    return removed;
  }

  /** Resolves once there are targets: at once, or with discovery after its first answer that named some. */
  ready(): Promise<void> {
    return this.discovery?.ready() ?? Promise.resolve();
  }

  /**
   * Refuses new requests and upgrades from now on; frees sockets, probes and lookups at
   * once, or with `{ drain }` once what is in flight has ended (cut short after `drain`
   * ms). The same promise for every later call; a bad argument rejects and closes nothing.
   */
  close(options?: unknown): Promise<void> {
    let drain: number | undefined;
    try {
      drain = Balancer.drainOf(options);
    } catch (err) {
      const error = err as TypeError; // the validators throw only TypeErrors
      return Promise.reject(error);
    }
    // What waits in the queue is answered at once, as new requests are from now on.
    if (this.closing === undefined) this.queue?.close();
    this.closing ??= drain === undefined ? Promise.resolve().then(() => this.free()) : this.drainThenFree(drain);
    return this.closing;
  }

  /**
   * The answer to a request once close() was called: a 503 `ELB_NO_TARGET` with
   * `Connection: close`, so a keep-alive client reconnects and reaches another instance.
   * The wait queue answers each request it holds at close() the same way.
   */
  private refuseClosed(res: Response, next: NextFunction): void {
    if (!res.headersSent) res.setHeader('Connection', 'close');
    next(new NoTargetError('express-load-balance: the balancer is closed'));
  }

  /** Frees what the balancer holds: pooled sockets, probes, timers, DNS lookups, open WebSockets. */
  private free(): void {
    this.discovery?.close();
    this.health?.close();
    this.outliers?.close();
    this.backPressure?.close();
    for (const agent of this.ownAgents) agent.destroy();
    this.mirror?.close();
    this.upgrades?.close();
  }

  /**
   * `close({ drain })`: waits until no attempt is open (HTTP requests whose answer has not
   * finished, WebSocket tunnels), as the attempt lifecycle tells, so it resolves with the
   * last one rather than at the deadline; at the deadline, cuts short what is left. Open
   * WebSockets never finish by themselves: as in Envoy's and nginx's drains, they are kept
   * until the deadline, then ended.
   */
  private async drainThenFree(ms: number): Promise<void> {
    const timer = this.runtime.clock.setTimeout(() => this.abortInFlight(), ms);
    // A retry ends one attempt and begins the next in the same tick: look again each time.
    while (this.lifecycle.inFlight > 0) await this.lifecycle.idle();
    timer.cancel();
    this.free();
  }

  /**
   * The drain deadline passed: ends open WebSockets, then breaks every request still in
   * flight, client connection and upstream request, as for an upstream that fails
   * mid-answer. Each attempt ends once, as `aborted`; none is open after.
   */
  private abortInFlight(): void {
    this.upgrades?.close();
    this.lifecycle.abortAll();
  }

  /** The `drain` of close()'s argument in ms, checked like an option; undefined: free at once. */
  private static drainOf(input: unknown): number | undefined {
    if (input === undefined) return undefined;
    const noun = MESSAGES.noun.close;
    const drain = own(optionObject('options', input, ['drain'], MESSAGES.objects.settings, noun), 'drain');
    return drain === undefined ? undefined : milliseconds('options.drain', drain, 0, noun);
  }
}
