import http from 'node:http';
import https from 'node:https';
import type { HealthCheckConfig } from '../options/config';
import type { Events } from '../observability/events';
import { log } from '../observability/log';
import type { Pool, TargetState } from '../balancing/pool';

const USER_AGENT = 'express-load-balance-health-check';

/**
 * Active health checks, as nginx Plus, HAProxy and Envoy run them: each target is
 * probed on its own jittered schedule, on a new connection every time (keep-alive off),
 * so a dead host or a half-open socket is seen rather than hidden by a pool. Timers are
 * unref()ed: a process with a balancer in it can still exit.
 */
export class ActiveHealthCheck {
  private readonly timers = new Map<TargetState, NodeJS.Timeout>();
  private readonly probes = new Set<http.ClientRequest>();
  private closed = false;

  constructor(
    private readonly config: HealthCheckConfig,
    private readonly pool: Pool,
    private readonly events: Events,
    private readonly random: () => number,
  ) {}

  /** Starts probing targets that have no schedule yet, and forgets removed ones. */
  sync(): void {
    if (this.closed) return;
    const current = new Set(this.pool.targets);
    for (const [target, timer] of this.timers) {
      if (!current.has(target)) {
        clearTimeout(timer);
        this.timers.delete(target);
      }
    }
    // The first probe comes at a random point of the first interval, so that many
    // targets (or many balancer processes) do not probe in lockstep.
    for (const target of current) if (!this.timers.has(target)) this.schedule(target, this.config.interval * this.random());
  }

  close(): void {
    this.closed = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const probe of this.probes) probe.destroy();
    this.probes.clear();
  }

  private schedule(target: TargetState, delay: number): void {
    const timer = setTimeout(() => this.probe(target), delay);
    timer.unref();
    this.timers.set(target, timer);
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
      clearTimeout(timer);
      this.probes.delete(request);
      request.destroy();
      if (this.closed || !this.timers.has(target)) return;
      this.report(target, passed);
      this.schedule(target, config.interval * (0.9 + 0.2 * this.random()));
    };
    const timer = setTimeout(() => finish(false), config.timeout);
    timer.unref();
    request.on('response', (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      finish(status >= config.expectStatus[0] && status <= config.expectStatus[1]);
    });
    request.on('error', () => finish(false));
    request.end();
  }

  private report(target: TargetState, passed: boolean): void {
    // probeStreak counts the results that argue for a change of state, reset by any other.
    if (passed === target.healthy) {
      target.probeStreak = 0;
      return;
    }
    target.probeStreak++;
    const threshold = target.healthy ? this.config.unhealthyThreshold : this.config.healthyThreshold;
    if (target.probeStreak < threshold) return;
    target.probeStreak = 0;
    target.healthy = passed;
    this.pool.refresh();
    log.health('%s is %s after %d probes of %s', target.url, passed ? 'up' : 'down', threshold, this.config.path);
    this.events.emit(passed ? 'targetUp' : 'targetDown', { target, reason: 'health-check' });
  }
}
