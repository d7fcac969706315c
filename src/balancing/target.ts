import { createHmac } from 'node:crypto';
import type { TargetSpec } from '../options/targets';
import type { Clock } from '../clock';
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
  /**
   * The weight to balance on now: below {@link weight} while the target is in slow
   * start (`slowStart` option), else the same.
   */
  readonly effectiveWeight: number;
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
  /** Its priority level: 0 is preferred, then 1 (`backup: true`), and so on. */
  readonly priority: number;
  /** False while active health checks find the target down. */
  readonly healthy: boolean;
  /** True while outlier detection keeps the target out of rotation. */
  readonly ejected: boolean;
  /** True while it rests after answering 503 or 429 with `Retry-After`. */
  readonly resting: boolean;
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
  /** The balancer's clock: slow start reads it. */
  readonly clock: Pick<Clock, 'now'>;
  /** ms of the slow-start window; 0 when off. */
  readonly slowStart: number;
}

/**
 * Where slow start begins: Envoy's `min_weight_percent` default, HAProxy's slowstart
 * likewise starts a server well below its weight rather than at zero.
 */
const SLOW_START_FLOOR = 0.1;

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
  private rests = false;
  private returns = 0;
  private level: number;
  /** In slow start, since {@link warmingSince}. */
  private warming = false;
  /** Clock reading when slow start began. */
  private warmingSince = 0;
  private readonly settings: TargetSettings;
  private readonly ewmaWindow: number;
  /** Waiting for the last in-flight request to end (a removal, say). */
  private onDrained: Array<() => void> | undefined;

  constructor(spec: TargetSpec, settings: TargetSettings) {
    this.url = spec.url;
    this.protocol = spec.protocol;
    this.hostname = spec.hostname;
    this.port = spec.port;
    this.hostHeader = spec.hostHeader;
    this.basePath = spec.basePath;
    this.currentWeight = spec.weight;
    this.level = spec.priority;
    this.settings = settings;
    this.ewmaWindow = settings.ewmaWindow;
    this.id = createHmac('sha256', settings.idSecret).update(spec.url).digest('base64url').slice(0, 22);
  }

  get weight(): number {
    return this.currentWeight;
  }

  /** Its priority level: 0 is preferred. */
  get priority(): number {
    return this.level;
  }

  /**
   * The weight weighted strategies balance on: during slow start, {@link weight} ×
   * max(10 %, the share of the window gone by), so it starts at 10 % and rises linearly
   * to all of it (Envoy's slow_start_window with min_weight_percent 10, aggression 1);
   * then it is the weight again.
   */
  get effectiveWeight(): number {
    return this.warming ? this.warmingWeight() : this.currentWeight;
  }

  /** {@link effectiveWeight} during slow start; ends it once the window has passed. */
  private warmingWeight(): number {
    const { slowStart, clock } = this.settings;
    const progress = (clock.now() - this.warmingSince) / slowStart;
    if (progress >= 1) {
      this.warming = false;
      return this.currentWeight;
    }
    return this.currentWeight * Math.max(SLOW_START_FLOOR, progress);
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

  /** True while it rests after a `Retry-After`. */
  get resting(): boolean {
    return this.rests;
  }

  /** May take new requests: healthy by probes, not ejected as an outlier, not resting. */
  get usable(): boolean {
    return this.up && !this.out && !this.rests;
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
      const waiting = this.onDrained;
      this.onDrained = undefined;
      for (const resolve of waiting) resolve();
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

  /** Called by the pool, which rebuilds its list of usable targets after. */
  setResting(resting: boolean): void {
    this.rests = resting;
  }

  /**
   * How many times the target became usable again after it was not: a request waiting
   * for a target that failed it to come back reads this.
   */
  get comebacks(): number {
    return this.returns;
  }

  /** Called by the pool when the target is usable again: it is counted, and starts slowly. */
  cameBack(): void {
    this.returns++;
    this.startSlowly();
  }

  /** Called by the pool when the target joins or comes back: its weight starts low (no-op when slow start is off). */
  startSlowly(): void {
    if (this.settings.slowStart <= 0) return;
    this.warming = true;
    this.warmingSince = this.settings.clock.now();
  }

  /** Called by the pool, which rebuilds its levels after: discovery follows SRV priorities. */
  setPriority(priority: number): void {
    this.level = priority;
  }

  /** Called by the pool: discovery follows the weights DNS gives. */
  setWeight(weight: number): void {
    this.currentWeight = weight;
  }

  /** Resolves once no request is in flight to this target any more. */
  drained(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => (this.onDrained ??= []).push(resolve));
  }

  /** What `lb.targets()` and `lb.stats()` share. */
  status(): TargetStatus {
    return {
      url: this.url,
      weight: this.currentWeight,
      priority: this.level,
      effectiveWeight: this.effectiveWeight,
      healthy: this.up,
      ejected: this.out,
      resting: this.rests,
      inFlight: this.pending,
      requests: this.sent,
      failures: this.failed,
    };
  }

  snapshot(now: number): TargetSnapshot {
    return { ...this.status(), ewmaMs: this.latencyAt(now) };
  }
}
