import type { Request } from 'express';
import type { Clock, Timer } from '../clock';
import { QueueTimeoutError } from '../errors';
import { AttemptWindow } from '../observability/attempt-window';
import type { QueueConfig } from '../options/config';
import type { AttemptObserver } from './attempts';
import type { TargetState } from './target';

/** How a wait in the queue ended. */
export type WaitResult = 'served' | 'timeout' | 'aborted' | 'closed';

/** One request waiting for a target. */
export interface Waiter {
  readonly req: Request;
  /** A new request waits for room; a retry waits for a target to come back. */
  readonly kind: 'admission' | 'retry';
  /**
   * A target this waiter may go to now, or undefined to keep waiting. Called in queue
   * order whenever a slot may have freed or a target may have come back.
   */
  next(): TargetState | undefined;
  /** Leaves the queue with `target`; the waiter sends its request there. */
  go(target: TargetState): void;
  /** Leaves the queue without a target: its time ran out, or the balancer closed. */
  giveUp(result: 'timeout' | 'closed'): void;
}

/** What the queue reports of each wait that ended. */
export type WaitListener = (req: Request, waitedMs: number, result: WaitResult) => void;

interface Entry {
  readonly waiter: Waiter;
  readonly since: number;
  timer: Timer | undefined;
}

/**
 * The `queue` option: requests no target can take now wait here, first in first out, at
 * most `size` of them, each at most until its deadline, and go on the moment a slot frees
 * (an attempt ended) or a target comes back (the pool changed). HAProxy's queue with
 * `timeout queue`; Caddy's `lb_try_duration` for retries.
 */
export class WaitQueue implements AttemptObserver {
  private entries: Entry[] = [];
  private wakeScheduled = false;
  private closed = false;
  /** Waits that ended lately, with how long they took, for `lb.stats()`. */
  readonly recent = new AttemptWindow();

  constructor(
    private readonly config: QueueConfig,
    private readonly clock: Clock,
    private readonly onLeave: WaitListener | undefined,
  ) {}

  get length(): number {
    return this.entries.length;
  }

  get size(): number {
    return this.config.size;
  }

  /** ms a request may wait. */
  get timeout(): number {
    return this.config.timeout;
  }

  /** The answer to a request that waited for its whole `timeout`: a 503 with Retry-After. */
  timeoutError(): QueueTimeoutError {
    const { timeout } = this.config;
    return new QueueTimeoutError(
      `no target could take the request within queue.timeout (${timeout} ms)`,
      Math.max(1, Math.ceil(timeout / 1000)),
    );
  }

  /**
   * Puts `waiter` at the back, to wait at most `timeoutMs` (the queue's `timeout` when
   * not given). False when the queue is full: the waiter was not taken. Returns a
   * function that takes it out again (its client left).
   */
  wait(waiter: Waiter, timeoutMs = this.config.timeout): (() => void) | undefined {
    if (this.closed || this.entries.length >= this.config.size) return undefined;
    const entry: Entry = { waiter, since: this.clock.now(), timer: undefined };
    entry.timer = this.clock.setTimeout(() => this.leave(entry, 'timeout'), Math.max(timeoutMs, 0));
    this.entries.push(entry);
    return () => this.leave(entry, 'aborted');
  }

  /** A slot may have freed: see whether waiters can go. */
  attemptEnded(): void {
    if (this.entries.length > 0) this.wake();
  }

  /** Targets or their availability changed: see whether waiters can go. */
  wake(): void {
    if (this.wakeScheduled || this.entries.length === 0) return;
    // Not inside the caller's stack: an attempt that just ended, or a pool change made
    // from a timer, must finish its own bookkeeping before new attempts begin.
    this.wakeScheduled = true;
    queueMicrotask(() => {
      this.wakeScheduled = false;
      this.serve();
    });
  }

  /** Answers every waiter, and takes no more: the balancer closed. */
  close(): void {
    this.closed = true;
    for (const entry of [...this.entries]) this.leave(entry, 'closed');
  }

  /**
   * Lets waiters go in order while each finds a target. Once a new request finds none,
   * the new requests behind it would not either (first in, first out), but retries are
   * still asked: one waiting for a target that failed it to come back must not hold up
   * new requests, nor be held up by them.
   */
  private serve(): void {
    let full = false;
    for (const entry of [...this.entries]) {
      if (full && entry.waiter.kind === 'admission') continue;
      if (!this.entries.includes(entry)) continue;
      const target = entry.waiter.next();
      if (target === undefined) {
        if (entry.waiter.kind === 'admission') full = true;
        continue;
      }
      this.remove(entry, 'served');
      entry.waiter.go(target);
    }
  }

  private leave(entry: Entry, result: 'timeout' | 'aborted' | 'closed'): void {
    if (!this.remove(entry, result)) return;
    if (result !== 'aborted') entry.waiter.giveUp(result);
  }

  private remove(entry: Entry, result: WaitResult): boolean {
    const i = this.entries.indexOf(entry);
    if (i === -1) return false;
    this.entries.splice(i, 1);
    entry.timer?.cancel();
    const now = this.clock.now();
    const waited = now - entry.since;
    this.recent.record(waited, result === 'served', now);
    this.onLeave?.(entry.waiter.req, waited, result);
    return true;
  }
}
