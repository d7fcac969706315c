/**
 * Time and chance, injected: each balancer gets one {@link Runtime} and hands the same
 * clock and random source to every part that needs them (strategies, the attempt
 * lifecycle, the stats window, the retry budget, health checks, outlier ejections), so
 * a test can drive a whole balancer on a fake clock instead of sleeping.
 */

/** A timer made by {@link Clock.setTimeout}. */
export interface Timer {
  /** Stops the timer; nothing happens if it already fired. */
  cancel(): void;
}

/** Milliseconds on a monotonic clock, and timers that fire on it. */
export interface Clock {
  /** Milliseconds since an arbitrary origin, never going back (like `performance.now()`). */
  now(): number;
  /** Milliseconds since the Unix epoch, like `Date.now()`: for dates in headers (`Retry-After`). */
  wallNow(): number;
  /**
   * Calls `callback` once, `ms` from now. The timer never keeps the process alive: a
   * balancer's schedules (probes, ejections) must not stop an app from exiting.
   */
  setTimeout(callback: () => void, ms: number): Timer;
}

/** A number in [0, 1), like `Math.random`. */
export type Random = () => number;

/** What a balancer takes from the world besides its options. */
export interface Runtime {
  readonly clock: Clock;
  readonly random: Random;
}

/** The real clock: `performance.now()` and unref'd Node timers. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout(callback: () => void, ms: number): Timer {
    const timer = setTimeout(callback, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
});

/** The runtime of a balancer made by `loadBalance()`. */
export const systemRuntime: Runtime = Object.freeze({ clock: systemClock, random: Math.random });
