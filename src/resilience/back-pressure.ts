import type { AttemptObserver, AttemptOutcome } from '../balancing/attempts';
import type { Pool } from '../balancing/pool';
import type { TargetState } from '../balancing/target';
import type { Clock, Timer } from '../clock';
import type { Events } from '../observability/events';
import { log } from '../observability/log';
import type { RetryAfterConfig } from '../options/config';

/** RFC 9110 §10.2.3: `Retry-After` is delay-seconds (digits) or an HTTP-date. */
const DELAY_SECONDS = /^\s*(\d+)\s*$/;

/**
 * The pause an answer asks for with `Retry-After`, in ms, from a 503 or a 429 (the two
 * statuses RFC 9110 §15.6.4 and RFC 6585 §4 give it that meaning on); undefined for
 * any other answer, a missing or unreadable header, or a date in the past.
 */
export function retryAfterMs(status: number, header: string | string[] | undefined, wallNow: number): number | undefined {
  if ((status !== 503 && status !== 429) || header === undefined) return undefined;
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = DELAY_SECONDS.exec(value);
  const ms = seconds !== null ? Number(seconds[1]) * 1000 : Date.parse(value) - wallNow;
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

/**
 * Upstream back-pressure: a target that answers 503 or 429 with `Retry-After` is asking
 * for a pause, so it rests, taking no new request for that long (at most
 * `retryAfter.max`), then comes back (slowly, when slow start is on). A rest never takes
 * the last usable target out of rotation: a pause asked of the only server left is a
 * pause nobody could honour without refusing everything.
 */
export class BackPressure implements AttemptObserver {
  private readonly timers = new Map<TargetState, Timer>();

  constructor(
    private readonly config: RetryAfterConfig,
    private readonly pool: Pool,
    private readonly events: Events,
    private readonly clock: Clock,
  ) {}

  attemptEnded(target: TargetState, outcome: AttemptOutcome): void {
    if ((outcome.result === 'response' || outcome.result === 'rejected') && outcome.retryAfterMs !== undefined) {
      this.rest(target, Math.min(outcome.retryAfterMs, this.config.max));
    }
  }

  /** Ends every rest's timer (the targets stay as they are). */
  close(): void {
    for (const timer of this.timers.values()) timer.cancel();
    this.timers.clear();
  }

  private rest(target: TargetState, ms: number): void {
    if (!this.pool.targets.includes(target)) return;
    const resting = target.resting;
    if (!resting && (!target.usable || this.pool.usableCount <= 1)) {
      log.health(
        '%s asked for %d ms of rest, not given: %s',
        target.url,
        ms,
        target.usable ? 'it is the last usable target' : 'it is out of rotation already',
      );
      return;
    }
    this.timers.get(target)?.cancel();
    if (!resting) {
      this.pool.setResting(target, true);
      log.health('%s rests for %d ms (Retry-After)', target.url, ms);
      this.events.emit('targetDown', { target, reason: 'retry-after' });
    }
    this.timers.set(
      target,
      this.clock.setTimeout(() => {
        this.timers.delete(target);
        this.pool.setResting(target, false);
        log.health('%s rested, back in rotation', target.url);
        this.events.emit('targetUp', { target, reason: 'retry-after' });
      }, ms),
    );
  }
}
