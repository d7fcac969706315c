import type { OutlierConfig } from '../options/config';
import type { Events } from '../observability/events';
import { log } from '../observability/log';
import type { Pool, TargetState } from '../balancing/pool';

/**
 * Passive health checking, as Envoy's outlier detection (consecutive_5xx) and nginx's
 * max_fails do it: live traffic is the probe. A target that fails `consecutiveFailures`
 * attempts in a row leaves the rotation for baseEjectionTime × (times ejected), capped;
 * it then comes back on probation, where a single failure ejects it again.
 */
export class OutlierDetection {
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly config: OutlierConfig,
    private readonly pool: Pool,
    private readonly events: Events,
  ) {}

  /** Records how an attempt on `target` ended. */
  record(target: TargetState, failed: boolean): void {
    if (!failed) {
      target.consecutiveFailures = 0;
      target.probation = false;
      return;
    }
    target.consecutiveFailures++;
    if (target.ejected) return;
    if (target.probation || target.consecutiveFailures >= this.config.consecutiveFailures) this.eject(target);
  }

  /** Stops the timers that would end ejections. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private eject(target: TargetState): void {
    const { targets } = this.pool;
    let ejected = 0;
    for (const candidate of targets) if (candidate.ejected) ejected++;
    // Envoy's rule: at most maxEjectionPercent of the hosts, but always at least one.
    if (ejected >= Math.max(1, Math.floor((targets.length * this.config.maxEjectionPercent) / 100))) {
      log.health('%s not ejected: %d of %d targets already are (maxEjectionPercent)', target.url, ejected, targets.length);
      return;
    }

    target.ejected = true;
    target.ejections++;
    target.probation = false;
    target.consecutiveFailures = 0;
    this.pool.refresh();
    this.events.emit('targetDown', { target, reason: 'outlier' });

    const duration = Math.min(this.config.baseEjectionTime * target.ejections, this.config.maxEjectionTime);
    log.health('%s ejected for %d ms (ejection %d)', target.url, duration, target.ejections);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      target.ejected = false;
      target.probation = true;
      this.pool.refresh();
      log.health('%s back from ejection, on probation', target.url);
      this.events.emit('targetUp', { target, reason: 'outlier' });
    }, duration);
    timer.unref();
    this.timers.add(timer);
  }
}
