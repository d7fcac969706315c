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
  private watchers: Array<(ms: number) => void> = [];

  now(): number {
    return this.time;
  }

  /** The fake time as a date: `epoch` plus what has passed. */
  wallNow(): number {
    return this.epoch + this.time;
  }

  constructor(private readonly epoch = Date.UTC(2026, 0, 1)) {}

  setTimeout(callback: () => void, ms: number): Timer {
    const entry: Scheduled = { at: this.time + Math.max(ms, 0), order: this.made++, callback, cancelled: false };
    this.scheduled.push(entry);
    for (const watcher of [...this.watchers]) watcher(ms);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }

  /**
   * Resolves once `count` more timers whose delay `matches` have been set: how a test
   * knows that work the clock started (a health probe, say) has finished and scheduled
   * its next round.
   */
  timersSet(count: number, matches: (ms: number) => boolean): Promise<void> {
    if (count <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      let seen = 0;
      const watcher = (ms: number): void => {
        if (!matches(ms) || ++seen < count) return;
        this.watchers = this.watchers.filter((other) => other !== watcher);
        resolve();
      };
      this.watchers.push(watcher);
    });
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
