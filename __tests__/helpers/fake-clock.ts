import type { Clock, Runtime, Timer } from '../../src/clock';

interface Scheduled {
  readonly at: number;
  readonly order: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock that moves only when told to: `advance(ms)` fires every timer that falls due,
 * in time order, each seeing `now()` at its own due time. Timers the callbacks set
 * within the span fire too.
 */
export class FakeClock implements Clock {
  private time = 0;
  private made = 0;
  private scheduled: Scheduled[] = [];

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): Timer {
    const entry: Scheduled = { at: this.time + Math.max(ms, 0), order: this.made++, callback, cancelled: false };
    this.scheduled.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /** Timers still waiting to fire. */
  get pending(): number {
    return this.scheduled.filter((entry) => !entry.cancelled).length;
  }

  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = this.scheduled.filter((entry) => !entry.cancelled && entry.at <= end).sort((a, b) => a.at - b.at || a.order - b.order)[0];
      if (due === undefined) break;
      this.scheduled = this.scheduled.filter((entry) => entry !== due);
      this.time = due.at;
      due.callback();
    }
    this.time = end;
  }
}

/** A runtime on a {@link FakeClock}, with a random source that always says `random`. */
export function fakeRuntime(clock = new FakeClock(), random = () => 0.5): Runtime & { clock: FakeClock } {
  return { clock, random };
}
