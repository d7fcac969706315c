import { createHmac } from 'node:crypto';
import type { TargetSpec } from '../options/targets';
import type { Clock } from '../clock';
import { AttemptWindow } from '../observability/attempt-window';
import { PeakEwma } from './latency-estimate';
import { SlowStart } from './slow-start';
import type { Target, TargetSnapshot, TargetStatus } from './target-views';

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
  /** The TLS server name of an https target found in DNS; see {@link TargetSpec.serverName}. */
  readonly serverName: string | undefined;
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
  private up = true;
  private out = false;
  private rests = false;
  private returns = 0;
  private level: number;
  private readonly ramp: SlowStart;
  /**
   * The weight weighted strategies balance on: {@link weight}, or during slow start
   * weight × max(10 %, the share of the window gone by). A plain field rather than a
   * getter, so that a pick reads it as cheaply as `weight` (a getter computing the ramp
   * made picks allocate); only this class writes it, in {@link rampUp}.
   */
  effectiveWeight: number;
  /** The latency estimate peak-EWMA balances on; kept for every strategy, shown by `lb.targets()`. */
  private readonly latency: PeakEwma;
  /** Waiting for the last in-flight request to end (a removal, say). */
  private onDrained: Array<() => void> | undefined;

  constructor(spec: TargetSpec, settings: TargetSettings) {
    this.url = spec.url;
    this.protocol = spec.protocol;
    this.hostname = spec.hostname;
    this.port = spec.port;
    this.hostHeader = spec.hostHeader;
    this.serverName = spec.serverName;
    this.basePath = spec.basePath;
    this.currentWeight = spec.weight;
    this.level = spec.priority;
    this.ramp = new SlowStart(settings.slowStart, settings.clock);
    this.effectiveWeight = spec.weight;
    this.latency = new PeakEwma(settings.ewmaWindow);
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
   * Brings {@link effectiveWeight} up to now during slow start; false once slow start is
   * over (or was never on). The pool calls it before every pick while the target warms.
   */
  rampUp(): boolean {
    if (!this.ramp.warming) return false;
    this.effectiveWeight = this.ramp.weigh(this.currentWeight);
    return this.ramp.warming;
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
    return this.latency.measured;
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
    if (failed) this.failed++;
    this.observeLatency(latencyMs, now);
    this.recent.record(durationMs, !failed, now);
    this.slotBack();
  }

  /**
   * An attempt was cut because another attempt of the same request answered first (a
   * hedge lost): its slot comes back, and nothing else is learnt. How long it ran says
   * only that this target was slower than the winner, not how slow, so it feeds neither
   * the latency estimate nor the stats window, whose percentiles (the `hedge` delay
   * among them) it would pull towards the hedge delay.
   */
  attemptCut(): void {
    this.slotBack();
  }

  private slotBack(): void {
    this.pending--;
    if (this.pending === 0 && this.onDrained !== undefined) {
      const waiting = this.onDrained;
      this.onDrained = undefined;
      for (const resolve of waiting) resolve();
    }
  }

  /** Feeds the latency estimate (see {@link PeakEwma.observe}). */
  observeLatency(durationMs: number, now: number): void {
    this.latency.observe(durationMs, now);
  }

  /** The latency estimate decayed to `now`, ms; 0 before the first observation. */
  latencyAt(now: number): number {
    return this.latency.at(now);
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

  /** Called by the pool when the target is usable again. */
  cameBack(): void {
    this.returns++;
  }

  /** Called by the pool when the target joins or comes back: its weight starts low (no-op when slow start is off). */
  startSlowly(): void {
    this.ramp.begin();
    this.rampUp();
  }

  /** Called by the pool, which rebuilds its levels after: discovery follows SRV priorities. */
  setPriority(priority: number): void {
    this.level = priority;
  }

  /** Called by the pool: discovery follows the weights DNS gives. */
  setWeight(weight: number): void {
    this.currentWeight = weight;
    if (!this.rampUp()) this.effectiveWeight = weight;
  }

  /** Resolves once no request is in flight to this target any more. */
  drained(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => (this.onDrained ??= []).push(resolve));
  }

  /** What `lb.targets()` and `lb.stats()` share. */
  status(): TargetStatus {
    this.rampUp();
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
