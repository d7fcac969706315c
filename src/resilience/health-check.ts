import http from 'node:http';
import https from 'node:https';
import type { HealthCheckConfig } from '../options/config';
import type { Events } from '../observability/events';
import { log } from '../observability/log';
import type { Pool } from '../balancing/pool';
import type { TargetState } from '../balancing/target';
import type { Clock, Random, Timer } from '../clock';

const USER_AGENT = 'express-load-balance-health-check';

/**
 * Active health checks, as nginx Plus, HAProxy and Envoy run them: each target is
 * probed on its own jittered schedule, on a new connection every time (keep-alive off),
 * so a dead host or a half-open socket is seen rather than hidden by a pool. Timers are
 * unref()ed: a process with a balancer in it can still exit.
 */
export class ActiveHealthCheck {
  private readonly timers = new Map<TargetState, Timer>();
  /** Per target, probe results in a row that argue for a change of state; reset by any other. */
  private readonly streaks = new WeakMap<TargetState, number>();
  private readonly probes = new Set<http.ClientRequest>();
  private closed = false;

  constructor(
    private readonly config: HealthCheckConfig,
    private readonly pool: Pool,
    private readonly events: Events,
    private readonly clock: Clock,
    private readonly random: Random,
  ) {}

  /** Starts probing targets that have no schedule yet, and forgets removed ones. */
  sync(): void {
    if (this.closed) return;
    const current = new Set(this.pool.targets);
    for (const [target, timer] of this.timers) {
      if (!current.has(target)) {
        timer.cancel();
        this.timers.delete(target);
      }
    }
    // The first probe comes at a random point of the first interval, so that many
    // targets (or many balancer processes) do not probe in lockstep.
    for (const target of current) if (!this.timers.has(target)) this.schedule(target, this.config.interval * this.random());
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
    for (const probe of this.probes) probe.destroy();
    this.probes.clear();
  }

  private schedule(target: TargetState, delay: number): void {
    this.timers.set(
      target,
      this.clock.setTimeout(() => this.probe(target), delay),
    );
  }

  private probe(target: TargetState): void {
    const { config } = this;
    const request = (target.protocol === 'https:' ? https : http).request({
      host: target.hostname,
      port: target.port,
      method: 'GET',
      path: config.path,
      headers: { host: target.hostHeader, 'user-agent': USER_AGENT, connection: 'close' },
      agent: false,
    });
    this.probes.add(request);
    let done = false;
    const finish = (passed: boolean): void => {
      if (done) return;
      done = true;
      timer.cancel();
      this.probes.delete(request);
      request.destroy();
      if (this.closed || !this.timers.has(target)) return;
      this.report(target, passed);
      this.schedule(target, config.interval * (0.9 + 0.2 * this.random()));
    };
    const timer = this.clock.setTimeout(() => finish(false), config.timeout);
    request.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      finish(status >= config.expectStatus[0] && status <= config.expectStatus[1]);
    });
    request.on('error', () => finish(false));
    request.end();
  }

  private report(target: TargetState, passed: boolean): void {
    if (passed === target.healthy) {
      this.streaks.delete(target);
      return;
    }
    const streak = (this.streaks.get(target) ?? 0) + 1;
    const threshold = target.healthy ? this.config.unhealthyThreshold : this.config.healthyThreshold;
    if (streak < threshold) {
      this.streaks.set(target, streak);
      return;
    }
    this.streaks.delete(target);
    this.pool.setHealthy(target, passed);
    log.health('%s is %s after %d probes of %s', target.url, passed ? 'up' : 'down', threshold, this.config.path);
    this.events.emit(passed ? 'targetUp' : 'targetDown', { target, reason: 'health-check' });
  }
}
