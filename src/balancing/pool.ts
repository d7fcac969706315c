import { createHmac } from 'node:crypto';
import { log } from '../observability/log';
import type { TargetSpec } from '../options/normalize';
import { AttemptWindow } from '../observability/attempt-window';
import { fnv1a32 } from './strategies/hash';

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
  /** Attempts that ended in a transport failure or timeout. */
  readonly failures: number;
}

/**
 * A point-in-time copy of a target's state, as returned by `lb.targets()`.
 * @public
 */
export interface TargetSnapshot {
  /** The target's normalised URL (origin and base path): its identity. */
  readonly url: string;
  /** Its weight, 1 unless given. */
  readonly weight: number;
  /** Requests sent to this target whose response has not finished yet. */
  readonly inFlight: number;
  /** Requests sent so far (each attempt counts). */
  readonly requests: number;
  /** Attempts that ended in a transport failure or timeout. */
  readonly failures: number;
  /**
   * Peak-EWMA of this target's response time in ms, decayed to now (0 before its first
   * response). A failed attempt counts as `timeout` ms. Kept for every strategy;
   * `'peak-ewma'` balances on it.
   */
  readonly ewmaMs: number;
  /** False while active health checks find the target down. */
  readonly healthy: boolean;
  /** True while outlier detection keeps the target out of rotation. */
  readonly ejected: boolean;
}

/** Settings the pool applies to every target it creates. */
export interface PoolSettings {
  /** Decay time constant of the latency EWMA, in ms. */
  readonly ewmaWindow: number;
  /** Key of the HMAC that turns a URL into the target's opaque id. */
  readonly idSecret: string | Buffer;
}

/**
 * One upstream and everything the balancer knows about it. This object is the only
 * owner of per-target state: strategies read and update these fields, and keep no
 * copies of the target list.
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
  /** FNV-1a of the URL: the target's fixed identity for consistent hashing. */
  readonly urlHash: number;
  weight: number;
  inFlight = 0;
  requests = 0;
  failures = 0;
  /** Smooth weighted round-robin's running weight (nginx's `current_weight`). */
  currentWeight = 0;
  /** Peak-EWMA of response time, ms, as of {@link ewmaAt}. */
  ewmaMs = 0;
  /** Clock reading of the last latency observation; NaN before the first. */
  ewmaAt = Number.NaN;
  /** Active health: false after `unhealthyThreshold` failed probes, until `healthyThreshold` pass. */
  healthy = true;
  /** Consecutive probe results of the current kind: successes while down, failures while up. */
  probeStreak = 0;
  /** Passive health: attempts that failed in a row (transport failures and 5xx answers). */
  consecutiveFailures = 0;
  /** Whether outlier detection has taken the target out of rotation. */
  ejected = false;
  /** How many times outlier detection has ejected it: multiplies the next ejection's length. */
  ejections = 0;
  /** Back from an ejection and not yet proven: its next failure ejects it again. */
  probation = false;
  /** Attempts that ended lately, for `lb.stats()`. */
  readonly recent = new AttemptWindow();
  private readonly ewmaWindow: number;
  /** Set while the target is being removed and still has requests in flight. */
  private onDrained: (() => void) | undefined;

  constructor(spec: TargetSpec, settings: PoolSettings) {
    this.url = spec.url;
    this.protocol = spec.protocol;
    this.hostname = spec.hostname;
    this.port = spec.port;
    this.hostHeader = spec.hostHeader;
    this.basePath = spec.basePath;
    this.weight = spec.weight;
    this.ewmaWindow = settings.ewmaWindow;
    this.id = createHmac('sha256', settings.idSecret).update(spec.url).digest('base64url').slice(0, 22);
    this.urlHash = fnv1a32(spec.url);
  }

  /** May take new requests: healthy by probes and not ejected as an outlier. */
  get usable(): boolean {
    return this.healthy && !this.ejected;
  }

  /** Whether a response time was ever observed. */
  get measured(): boolean {
    return !Number.isNaN(this.ewmaAt);
  }

  /**
   * Finagle's peak-EWMA (PeakEwma in finagle-core's load balancer): a response slower
   * than the current estimate replaces it at once, so a target that turns slow loses
   * traffic after one response; a faster one pulls it down by the weight
   * 1 - e^(-Δt/window), so the estimate recovers over about one `ewmaWindow`.
   */
  observeLatency(durationMs: number, now: number): void {
    if (!this.measured) {
      this.ewmaMs = durationMs;
    } else {
      const w = Math.exp(-Math.max(now - this.ewmaAt, 0) / this.ewmaWindow);
      const decayed = this.ewmaMs * w;
      this.ewmaMs = durationMs > decayed ? durationMs : decayed + durationMs * (1 - w);
    }
    this.ewmaAt = now;
  }

  /**
   * The estimate decayed to `now` as if time passing were a stream of zero-latency
   * observations (Finagle reads it the same way). A pure read: how often strategies
   * look does not change it.
   */
  latencyAt(now: number): number {
    if (!this.measured) return 0;
    return this.ewmaMs * Math.exp(-Math.max(now - this.ewmaAt, 0) / this.ewmaWindow);
  }

  /** Called after every request to this target ended (in-flight count already lowered). */
  requestEnded(): void {
    if (this.inFlight === 0 && this.onDrained !== undefined) {
      const resolve = this.onDrained;
      this.onDrained = undefined;
      resolve();
    }
  }

  /** Resolves once no request is in flight to this target any more. */
  drained(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.onDrained = resolve;
    });
  }

  snapshot(now: number): TargetSnapshot {
    return {
      url: this.url,
      weight: this.weight,
      inFlight: this.inFlight,
      requests: this.requests,
      failures: this.failures,
      ewmaMs: this.latencyAt(now),
      healthy: this.healthy,
      ejected: this.ejected,
    };
  }
}

/**
 * The balancer's targets, in configuration order then order of addition. The pool owns
 * adding and removing them; strategies only ever see {@link Pool.available}.
 */
export class Pool {
  private list: readonly TargetState[];
  private usableList: readonly TargetState[];
  private readonly byId = new Map<string, TargetState>();
  /** Removed targets whose requests are still in flight, by URL. */
  private readonly draining = new Map<string, Promise<void>>();

  constructor(
    specs: readonly TargetSpec[],
    private readonly settings: PoolSettings,
  ) {
    this.list = Object.freeze(specs.map((spec) => this.index(new TargetState(spec, settings))));
    this.usableList = this.list;
  }

  /** Every current target (not those being drained after removal). */
  get targets(): readonly TargetState[] {
    return this.list;
  }

  /**
   * Targets that may take a new request: the usable ones (healthy, not ejected), or, in
   * panic mode, when none is usable, all of them, as nginx and Envoy do rather than
   * refuse everything on the word of health checks. The same array until something
   * changes, so the hot path allocates nothing; a change builds a new one and never
   * mutates the old, so a pick in progress always sees a consistent list.
   */
  available(): readonly TargetState[] {
    return this.usableList;
  }

  /** True while no target is usable and {@link available} offers all of them. */
  get panic(): boolean {
    return this.usableList === this.list && this.list.some((target) => !target.usable);
  }

  /** Rebuilds {@link available}; call after a target's health or ejection changed. */
  refresh(): void {
    const usable = this.list.filter((target) => target.usable);
    this.usableList = usable.length === this.list.length || usable.length === 0 ? this.list : Object.freeze(usable);
  }

  /** The current target with this opaque id, if any. */
  byStickyId(id: string): TargetState | undefined {
    return this.byId.get(id);
  }

  /** Adds a target; a TypeError if one with the same URL is already there. */
  add(spec: TargetSpec): TargetState {
    if (this.list.some((target) => target.url === spec.url)) {
      throw new TypeError(`express-load-balance: addTarget(): ${spec.url} is already a target`);
    }
    const target = this.index(new TargetState(spec, this.settings));
    this.list = Object.freeze([...this.list, target]);
    this.refresh();
    log.pool('added %s (weight %d)', target.url, target.weight);
    return target;
  }

  /**
   * Takes the target out of {@link available} at once; the promise resolves when its
   * last in-flight request has ended. Removing a target that is still draining returns
   * the same promise. A TypeError for a URL that is not a target.
   */
  remove(url: string): Promise<void> {
    const target = this.list.find((candidate) => candidate.url === url);
    if (target === undefined) {
      const pending = this.draining.get(url);
      if (pending !== undefined) return pending;
      return Promise.reject(new TypeError(`express-load-balance: removeTarget(): ${url} is not a target`));
    }
    this.list = Object.freeze(this.list.filter((candidate) => candidate !== target));
    this.refresh();
    this.byId.delete(target.id);
    const done = target.drained();
    log.pool('removed %s, draining %d in-flight requests', url, target.inFlight);
    this.draining.set(url, done);
    void done.then(() => {
      if (this.draining.get(url) === done) this.draining.delete(url);
      log.pool('%s drained', url);
    });
    return done;
  }

  private index(target: TargetState): TargetState {
    this.byId.set(target.id, target);
    return target;
  }
}
