import type { TargetSpec } from './options';

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
  readonly url: string;
  readonly weight: number;
  readonly inFlight: number;
  readonly requests: number;
  readonly failures: number;
  readonly healthy: boolean;
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
  weight: number;
  inFlight = 0;
  requests = 0;
  failures = 0;
  /** Smooth weighted round-robin's running weight (nginx's `current_weight`). */
  currentWeight = 0;

  constructor(spec: TargetSpec) {
    this.url = spec.url;
    this.protocol = spec.protocol;
    this.hostname = spec.hostname;
    this.port = spec.port;
    this.hostHeader = spec.hostHeader;
    this.basePath = spec.basePath;
    this.weight = spec.weight;
  }

  snapshot(): TargetSnapshot {
    return {
      url: this.url,
      weight: this.weight,
      inFlight: this.inFlight,
      requests: this.requests,
      failures: this.failures,
      healthy: true,
    };
  }
}

/** The balancer's targets, in configuration order. */
export class Pool {
  readonly targets: readonly TargetState[];

  constructor(specs: readonly TargetSpec[]) {
    this.targets = specs.map((spec) => new TargetState(spec));
  }

  /** Targets that may take a new request. The same array every call: no allocation. */
  available(): readonly TargetState[] {
    return this.targets;
  }
}
