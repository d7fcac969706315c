import { randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { AxiosInstance } from 'axios';
import type { NextFunction, Request, Response } from 'express';
import { AttemptLifecycle } from './balancing/attempts';
import { Pool } from './balancing/pool';
import { TargetSelector } from './balancing/selection';
import { StickySessions } from './balancing/sticky';
import { strategyFactory } from './balancing/strategies';
import type { TargetSnapshot } from './balancing/target';
import type { Runtime } from './clock';
import { DnsDiscovery } from './discovery/runner';
import { NoTargetError } from './errors';
import { createAdapter } from './forwarding/axios-adapter';
import { createAxios } from './forwarding/axios-instance';
import { Forwarder } from './forwarding/forwarder';
import { Events } from './observability/events';
import { balancerStats, type BalancerStats } from './observability/stats';
import type { BalancerConfig } from './options/config';
import { parseTarget } from './options/targets';
import { ActiveHealthCheck } from './resilience/health-check';
import { OutlierDetection } from './resilience/outlier-detection';
import { RetryBudget } from './resilience/retry-budget';
import { UpgradeProxy, type UpgradeContext } from './upgrade/upgrade-proxy';

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
  private readonly health: ActiveHealthCheck | undefined;
  private readonly outliers: OutlierDetection | undefined;
  private readonly discovery: DnsDiscovery | undefined;
  private readonly ownAgents: readonly http.Agent[];
  private readonly runtime: Runtime;
  private closing: Promise<void> | undefined;
  /** Built on the first WebSocket upgrade: apps without WebSockets never pay for it. */
  private upgrades: UpgradeProxy | undefined;

  constructor(config: BalancerConfig, runtime: Runtime) {
    const { clock, random } = runtime;
    const { resilience } = config;
    this.runtime = runtime;
    const pool = new Pool(config.targets, { ewmaWindow: config.ewmaWindow, idSecret: config.sticky?.secret ?? randomBytes(32) });
    this.pool = pool;
    const strategy = strategyFactory(config.strategy)({ random, clock, hashKey: config.hashKey });
    this.outliers =
      resilience.outlierDetection === undefined ? undefined : new OutlierDetection(resilience.outlierDetection, pool, this.events, clock);
    const lifecycle = new AttemptLifecycle(strategy, this.events, clock, config.timeout, this.outliers);
    const sticky = config.sticky === undefined ? undefined : new StickySessions(config.sticky);
    const selector = new TargetSelector(pool, strategy, sticky, resilience.maxInFlightPerTarget);
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
                // Resolves once drained; never rejects here, as the URL is a current target.
                pool.remove(url).catch(() => undefined);
                this.health?.sync();
              },
              setWeight: (url, weight) => pool.setWeight(url, weight),
            },
            clock,
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
    this.forwarder = new Forwarder({ config, axios: this.axios, selector, lifecycle, budget, events: this.events, clock, sticky });
    this.upgradeContext = {
      config,
      selector,
      lifecycle,
      events: this.events,
      deadlines: Object.freeze({ timeout: config.timeout, connectTimeout: resilience.connectTimeout }),
      closed: () => this.closing !== undefined,
    };
  }

  handle(req: Request, res: Response, next: NextFunction): void {
    if (this.closing !== undefined) {
      next(new NoTargetError('express-load-balance: the balancer is closed'));
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
    return balancerStats(this.pool, this.runtime.clock.now());
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
      const error = err as TypeError; // parseTarget throws only TypeErrors
      return Promise.reject(error);
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
