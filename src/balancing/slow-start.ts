import type { Clock } from '../clock';

/**
 * Where slow start begins: Envoy's `min_weight_percent` default; HAProxy's slowstart
 * likewise starts a server well below its weight rather than at zero.
 */
const FLOOR = 0.1;

/**
 * One target's slow start: after {@link begin}, its weight is weight × max(10 %, the
 * share of the window gone by), so it starts at 10 % and rises linearly to all of it
 * (Envoy's slow_start_window with min_weight_percent 10, aggression 1), then it is the
 * weight again. A window of 0 turns it off.
 */
export class SlowStart {
  /** In slow start, since {@link since}. */
  warming = false;
  private since = 0;

  constructor(
    private readonly window: number,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /** The target joined or came back. */
  begin(): void {
    if (this.window <= 0) return;
    this.warming = true;
    this.since = this.clock.now();
  }

  /** `weight` as it counts now; ends slow start once the window has passed. */
  weigh(weight: number): number {
    const progress = (this.clock.now() - this.since) / this.window;
    if (progress >= 1) {
      this.warming = false;
      return weight;
    }
    return weight * Math.max(FLOOR, progress);
  }
}
