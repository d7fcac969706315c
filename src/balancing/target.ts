import { createHmac } from 'node:crypto';
import type { TargetSpec } from '../options/targets';
import { AttemptWindow } from '../observability/attempt-window';

/**
 * The read-only view of an upstream that strategies and listeners receive.
 * Counters are live: they are the pool's own, not copies.
 * @public
 */
export interface Target {
  /** Normalised URL: origin plus base path, without a trailing slash. */
  readonly url: string;
  /** Relative weight (default 1). */
  readonly weight: number;
  /** Requests sent to this target whose response has not finished yet. */
  readonly inFlight: number;
  /** Requests sent to this target so far (each attempt counts). */
  readonly requests: number;
  /** Attempts that failed: unreachable, reset, timed out, broken off, or answered with a `retryOn` status. */
  readonly failures: number;
}

/**
 * What `lb.targets()` and `lb.stats()` both say about a target, at one moment.
 * @public
 */
export interface TargetStatus extends Target {
  /** False while active health checks find the target down. */
  readonly healthy: boolean;
  /** True while outlier detection keeps the target out of rotation. */
  readonly ejected: boolean;
}

/**
 * A point-in-time copy of a target's state, as returned by `lb.targets()`.
 * @public
 */
export interface TargetSnapshot extends TargetStatus {
  /**
   * Peak-EWMA of this target's response time in ms, decayed to now (0 before its first
   * response). A failed attempt counts as `timeout` ms. Kept for every strategy;
   * `'peak-ewma'` balances on it.
   */
  readonly ewmaMs: number;
}

/** Settings the pool applies to every target it creates. */
export interface TargetSettings {
  /** Decay time constant of the latency EWMA, in ms. */
  readonly ewmaWindow: number;
  /** Key of the HMAC that turns a URL into the target's opaque id. */
  readonly idSecret: string | Buffer;
}

/**
 * One upstream and what every part of the balancer shares about it: its address, its
 * counters and latency estimate, and whether it may take requests. The one owner of
 * this state: its counters change only through {@link attemptStarted} and
 * {@link attemptEnded}, which the attempt lifecycle calls, and its availability only
 * through the pool. Strategies, health checks and outlier detection keep their own
 * scratch state elsewhere, keyed by target.
 */
export class TargetState implements Target {
  readonly url: string;
  readonly protocol: 'http:' | 'https:';
  readonly hostname: string;
  readonly port: number;
  readonly hostHeader: string;
  readonly basePath: string;
  /**
   * Opaque, unguessable id (an HMAC of the URL): what a sticky cookie holds, so the
   * cookie never reveals an upstream address.
   */
  readonly id: string;
  /** Attempts that ended lately, for `lb.stats()`. */
  readonly recent = new AttemptWindow();
  private currentWeight: number;
  private pending = 0;
  private sent = 0;
  private failed = 0;
  /** Peak-EWMA of response time, ms, as of {@link observedAt}: the raw value, not decayed. */
  private peakMs = 0;
  /** Clock reading of the last latency observation; NaN before the first. */
  private observedAt = Number.NaN;
  private up = true;
  private out = false;
  private readonly ewmaWindow: number;
  /** Set while the target is being removed and still has requests in flight. */
  private onDrained: (() => void) | undefined;

  constructor(spec: TargetSpec, settings: TargetSettings) {
    this.url = spec.url;
    this.protocol = spec.protocol;
    this.hostname = spec.hostname;
    this.port = spec.port;
    this.hostHeader = spec.hostHeader;
    this.basePath = spec.basePath;
    this.currentWeight = spec.weight;
    this.ewmaWindow = settings.ewmaWindow;
    this.id = createHmac('sha256', settings.idSecret).update(spec.url).digest('base64url').slice(0, 22);
  }

  get weight(): number {
    return this.currentWeight;
  }

  get inFlight(): number {
    return this.pending;
  }

  get requests(): number {
    return this.sent;
  }

  get failures(): number {
    return this.failed;
  }

  /** False after active health checks found the target down, until they find it up. */
  get healthy(): boolean {
    return this.up;
  }

  /** Whether outlier detection has taken the target out of rotation. */
  get ejected(): boolean {
    return this.out;
  }

  /** May take new requests: healthy by probes and not ejected as an outlier. */
  get usable(): boolean {
    return this.up && !this.out;
  }

  /** Whether a response time was ever observed. */
  get measured(): boolean {
    return !Number.isNaN(this.observedAt);
  }

  /** An attempt took a slot on this target. */
  attemptStarted(): void {
    this.pending++;
  }

  /** A request went out on the wire (an attempt, or its resend on a fresh connection). */
  requestSent(): void {
    this.sent++;
  }

  /**
   * An attempt ended: gives its slot back, counts a failure, feeds the latency estimate
   * (with `latencyMs`, which makes a failure count as slow) and the stats window (with
   * the real duration), and resolves {@link drained} once the last slot is back.
   */
  attemptEnded(durationMs: number, latencyMs: number, failed: boolean, now: number): void {
    this.pending--;
    if (failed) this.failed++;
    this.observeLatency(latencyMs, now);
    this.recent.record(durationMs, !failed, now);
    if (this.pending === 0 && this.onDrained !== undefined) {
      const resolve = this.onDrained;
      this.onDrained = undefined;
      resolve();
    }
  }

  /**
   * Finagle's peak-EWMA (PeakEwma in finagle-core's load balancer): a response slower
   * than the current estimate replaces it at once, so a target that turns slow loses
   * traffic after one response; a faster one pulls it down by the weight
   * 1 - e^(-Δt/window), so the estimate recovers over about one `ewmaWindow`.
   */
  observeLatency(durationMs: number, now: number): void {
    if (!this.measured) {
      this.peakMs = durationMs;
    } else {
      const w = Math.exp(-Math.max(now - this.observedAt, 0) / this.ewmaWindow);
      const decayed = this.peakMs * w;
      this.peakMs = durationMs > decayed ? durationMs : decayed + durationMs * (1 - w);
    }
    this.observedAt = now;
  }

  /**
   * The estimate decayed to `now` as if time passing were a stream of zero-latency
   * observations (Finagle reads it the same way). A pure read: how often strategies
   * look does not change it.
   */
  latencyAt(now: number): number {
    if (!this.measured) return 0;
    return this.peakMs * Math.exp(-Math.max(now - this.observedAt, 0) / this.ewmaWindow);
  }

  /** Called by the pool, which rebuilds its list of usable targets after. */
  setHealthy(healthy: boolean): void {
    this.up = healthy;
  }

  /** Called by the pool, which rebuilds its list of usable targets after. */
  setEjected(ejected: boolean): void {
    this.out = ejected;
  }

  /** Called by the pool: discovery follows the weights DNS gives. */
  setWeight(weight: number): void {
    this.currentWeight = weight;
  }

  /** Resolves once no request is in flight to this target any more. */
  drained(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained = resolve;
    });
  }

  /** What `lb.targets()` and `lb.stats()` share. */
  status(): TargetStatus {
    return {
      url: this.url,
      weight: this.currentWeight,
      healthy: this.up,
      ejected: this.out,
      inFlight: this.pending,
      requests: this.sent,
      failures: this.failed,
    };
  }

  snapshot(now: number): TargetSnapshot {
    return { ...this.status(), ewmaMs: this.latencyAt(now) };
  }
}
