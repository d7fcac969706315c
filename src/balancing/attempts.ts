import type { Request } from 'express';
import type { Clock } from '../clock';
import type { Events } from '../observability/events';
import type { Strategy } from './strategies/types';
import type { TargetState } from './target';

/**
 * How an attempt ended: the one thing the rest of the balancer learns about it.
 * `status` is the upstream's, when it answered.
 */
export type AttemptOutcome =
  /**
   * The upstream answered and its answer went to the client to the end. `retryAfterMs`:
   * what its `Retry-After` asked for, on a 503 or 429 (when `retryAfter` is on).
   */
  | { readonly result: 'response'; readonly status: number; readonly retryAfterMs?: number | undefined }
  /** The upstream answered with a `retryOn` status; the answer was set aside for a retry. A failure. */
  | { readonly result: 'rejected'; readonly status: number; readonly retryAfterMs?: number | undefined }
  /** Unreachable, reset, timed out, or its answer broke off or could not be forwarded. A failure. */
  | { readonly result: 'error'; readonly status?: number | undefined }
  /** Says nothing about the target: the client left, sent too much, or an axios interceptor threw. */
  | { readonly result: 'aborted'; readonly status?: number | undefined }
  /** A hedged request's attempt that another attempt's answer beat: cut, and says nothing about the target. */
  | { readonly result: 'hedge-lost'; readonly status?: undefined };

/**
 * What began an attempt and can cut it short (an HTTP exchange): asked to when
 * `close({ drain })` reaches its deadline with the attempt still open.
 */
export interface AttemptOwner {
  /** Breaks the client connection and the upstream request; the attempt ends as `aborted`. */
  abort(): void;
}

/** Told how every attempt ended (outlier detection is one). */
export interface AttemptObserver {
  attemptEnded(target: TargetState, outcome: AttemptOutcome): void;
}

/**
 * One attempt on one target: it holds a slot there from {@link AttemptLifecycle.begin}
 * until {@link end}, which happens exactly once, however the attempt ends. An HTTP
 * exchange makes one per target it tries; a WebSocket tunnel makes one and ends it when
 * either side closes.
 */
export class Attempt {
  private open = true;
  /** Set by {@link stopClock}: when the attempt's duration ends, if before its end. */
  stoppedAt: number | undefined = undefined;

  constructor(
    private readonly lifecycle: AttemptLifecycle,
    readonly target: TargetState,
    readonly req: Request,
    readonly startedAt: number,
    private readonly owner: AttemptOwner | undefined,
  ) {}

  /** Whether the attempt still holds its slot. */
  get ended(): boolean {
    return !this.open;
  }

  /**
   * A request goes out on the wire: the attempt's first, or a resend on a fresh
   * connection. `path` is the upstream path, `number` counts from 1 per client request.
   */
  sent(path: string, number: number): void {
    this.lifecycle.sent(this, path, number);
  }

  /**
   * The attempt's duration ends now, though it keeps its slot: a tunnel's handshake was
   * answered, and how long the session then lasts says nothing about how fast the
   * target is (peak-EWMA would take a long chat for a slow upstream).
   */
  stopClock(): void {
    this.stoppedAt ??= this.lifecycle.now();
  }

  /** Ends the attempt, once; later calls do nothing. */
  end(outcome: AttemptOutcome): void {
    if (!this.open) return;
    this.open = false;
    this.lifecycle.ended(this, outcome);
  }

  /**
   * Cuts the attempt short: its owner breaks both connections, and the attempt ends as
   * `aborted` now, whether or not the owner's own ending comes later (it then does
   * nothing), so nothing waits on an owner that cannot end it (an axios interceptor that
   * never settles, say).
   */
  abort(): void {
    this.owner?.abort();
    this.end({ result: 'aborted' });
  }
}

/**
 * The attempt lifecycle: the one place where an attempt changes what the balancer
 * knows about a target (in-flight count, counters, latency estimate, stats window,
 * draining), where the strategy and outlier detection hear of it, and where the
 * `proxyReq` and `proxyEnd` events are emitted, for HTTP requests and WebSocket
 * tunnels alike.
 */
export class AttemptLifecycle {
  /** Attempts begun and not ended yet, on every target, removed ones included. */
  private readonly open = new Set<Attempt>();
  /** Waiting for {@link open} to empty: `close({ drain })`. */
  private idleWaiters: Array<() => void> | undefined;

  constructor(
    private readonly strategy: Strategy<TargetState>,
    private readonly events: Events,
    private readonly clock: Clock,
    /**
     * What a failed attempt counts as in the latency estimate, in ms (the `timeout`): a
     * target that refuses connections answers fast, and must not look like the fastest
     * one to latency-aware balancing.
     */
    private readonly failedAsMs: number,
    private readonly observers: readonly AttemptObserver[],
  ) {}

  now(): number {
    return this.clock.now();
  }

  /** Attempts holding a slot now, on every target, removed ones included. */
  get inFlight(): number {
    return this.open.size;
  }

  /**
   * Resolves the next time no attempt is open, at once if none is. A retry ends one
   * attempt and begins the next in the same tick, so look at {@link inFlight} again after.
   */
  idle(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.idleWaiters ??= []).push(resolve));
  }

  /** Cuts every open attempt short (see {@link Attempt.abort}); none is open after. */
  abortAll(): void {
    for (const attempt of [...this.open]) attempt.abort();
  }

  /**
   * Takes a slot on `target` for `req` and tells the strategy. `owner` is what can cut
   * the attempt short; a WebSocket tunnel has none here, as its proxy ends it.
   */
  begin(target: TargetState, req: Request, owner?: AttemptOwner): Attempt {
    target.attemptStarted();
    if (this.strategy.onStart !== undefined) {
      try {
        this.strategy.onStart(target, req);
      } catch (error) {
        this.strategyThrew(error, target);
      }
    }
    const attempt = new Attempt(this, target, req, this.clock.now(), owner);
    this.open.add(attempt);
    return attempt;
  }

  /** @see Attempt.sent */
  sent(attempt: Attempt, path: string, number: number): void {
    const { target, req } = attempt;
    target.requestSent();
    if (this.events.has('proxyReq')) this.events.emit('proxyReq', { target, req, method: req.method, path, attempt: number });
  }

  /** @see Attempt.end */
  ended(attempt: Attempt, outcome: AttemptOutcome): void {
    this.open.delete(attempt);
    const { target, req } = attempt;
    const now = this.clock.now();
    const durationMs = (attempt.stoppedAt ?? now) - attempt.startedAt;
    const failed = outcome.result === 'error' || outcome.result === 'rejected';
    if (outcome.result === 'hedge-lost') target.attemptCut();
    else target.attemptEnded(durationMs, failed ? Math.max(durationMs, this.failedAsMs) : durationMs, failed, now);
    if (this.strategy.onEnd !== undefined) {
      try {
        this.strategy.onEnd(target, { ok: !failed, status: outcome.status, durationMs });
      } catch (error) {
        this.strategyThrew(error, target);
      }
    }
    for (let i = 0; i < this.observers.length; i++) this.observers[i]!.attemptEnded(target, outcome);
    if (this.events.has('proxyEnd')) {
      const { result, status } = outcome;
      this.events.emit('proxyEnd', {
        target,
        req,
        method: req.method,
        status,
        result: result === 'rejected' ? 'response' : result,
        durationMs,
      });
    }
    if (this.open.size === 0 && this.idleWaiters !== undefined) {
      const waiters = this.idleWaiters;
      this.idleWaiters = undefined;
      for (const resolve of waiters) resolve();
    }
  }

  /**
   * A custom strategy's onStart/onEnd that throws is reported like a throwing listener:
   * it must neither break the request, nor leave the in-flight count up (a removal
   * would then wait for ever), nor escape from a stream callback and crash the process.
   */
  private strategyThrew(thrown: unknown, target: TargetState): void {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    if (this.events.has('error')) this.events.emit('error', { error, target });
    else process.emitWarning(error, { code: 'ELB_STRATEGY_THREW', detail: `the strategy's onStart/onEnd threw for ${target.url}` });
  }
}
