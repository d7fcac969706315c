import type { AttemptObserver, AttemptOutcome } from '../balancing/attempts';
import type { Pool } from '../balancing/pool';
import type { TargetState } from '../balancing/target';
import type { Clock, Timer } from '../clock';
import type { OutlierConfig } from '../options/config';
import type { Events } from '../observability/events';
import { log } from '../observability/log';

/** What outlier detection remembers of one target. */
interface TargetRecord {
  /** Attempts that failed in a row (transport failures and 5xx answers). */
  consecutiveFailures: number;
  /** How many times it was ejected: multiplies the next ejection's length. */
  ejections: number;
  /** Back from an ejection and not yet proven: its next failure ejects it again. */
  probation: boolean;
}

/**
 * Passive health checking, as Envoy's outlier detection (consecutive_5xx) and nginx's
 * max_fails do it: live traffic is the probe. A target that fails `consecutiveFailures`
 * attempts in a row leaves the rotation for baseEjectionTime × (times ejected), capped;
 * it then comes back on probation, where a single failure ejects it again.
 */
export class OutlierDetection implements AttemptObserver {
  private readonly records = new WeakMap<TargetState, TargetRecord>();
  private readonly timers = new Set<Timer>();

  constructor(
    private readonly config: OutlierConfig,
    private readonly pool: Pool,
    private readonly events: Events,
    private readonly clock: Clock,
  ) {}

  /**
   * An attempt on `target` ended. One the target had no part in (the client left) says
   * nothing; an answer counts as a failure when it is a 5xx, whether or not it was
   * forwarded.
   */
  attemptEnded(target: TargetState, outcome: AttemptOutcome): void {
    if (outcome.result === 'aborted' || outcome.result === 'hedge-lost') return;
    const failed = outcome.result === 'error' || outcome.status >= 500;
    const record = this.recordOf(target);
    if (!failed) {
      record.consecutiveFailures = 0;
      record.probation = false;
      return;
    }
    record.consecutiveFailures++;
    if (target.ejected) return;
    if (record.probation || record.consecutiveFailures >= this.config.consecutiveFailures) this.eject(target, record);
  }

  /** Stops the timers that would end ejections. */
  close(): void {
    for (const timer of this.timers) timer.cancel();
    this.timers.clear();
  }

  private recordOf(target: TargetState): TargetRecord {
    let record = this.records.get(target);
    if (record === undefined) {
      record = { consecutiveFailures: 0, ejections: 0, probation: false };
      this.records.set(target, record);
    }
    return record;
  }

  private eject(target: TargetState, record: TargetRecord): void {
    const { targets } = this.pool;
    let ejected = 0;
    for (const candidate of targets) if (candidate.ejected) ejected++;
    // Envoy's rule: at most maxEjectionPercent of the hosts, but always at least one.
    if (ejected >= Math.max(1, Math.floor((targets.length * this.config.maxEjectionPercent) / 100))) {
      log.health('%s not ejected: %d of %d targets already are (maxEjectionPercent)', target.url, ejected, targets.length);
      return;
    }

    record.ejections++;
    record.probation = false;
    record.consecutiveFailures = 0;
    this.pool.setEjected(target, true);
    this.events.emit('targetDown', { target, reason: 'outlier' });

    const duration = Math.min(this.config.baseEjectionTime * record.ejections, this.config.maxEjectionTime);
    log.health('%s ejected for %d ms (ejection %d)', target.url, duration, record.ejections);
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      record.probation = true;
      this.pool.setEjected(target, false);
      log.health('%s back from ejection, on probation', target.url);
      this.events.emit('targetUp', { target, reason: 'outlier' });
    }, duration);
    this.timers.add(timer);
  }
}
