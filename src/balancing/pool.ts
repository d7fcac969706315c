import type { TargetSpec } from '../options/targets';
import { log } from '../observability/log';
import { TargetState, type TargetSettings } from './target';

/** The targets of one priority level. */
export interface Level {
  readonly priority: number;
  /** Every target of the level. */
  readonly targets: readonly TargetState[];
  /** Those that may take a request: healthy, not ejected, not resting. */
  readonly usable: readonly TargetState[];
}

/**
 * The balancer's targets, in configuration order then order of addition. The pool owns
 * adding and removing them and whether each may take requests; strategies only ever
 * see {@link Pool.available}.
 */
export class Pool {
  private list: readonly TargetState[];
  private usableList: readonly TargetState[];
  private levelList: readonly Level[] = [];
  /** Targets in slow start, whose effective weight moves with time. */
  private readonly warming = new Set<TargetState>();
  private readonly byId = new Map<string, TargetState>();
  /** Removed targets whose requests are still in flight, by URL. */
  private readonly draining = new Map<string, Promise<void>>();

  constructor(
    specs: readonly TargetSpec[],
    private readonly settings: TargetSettings,
  ) {
    this.list = Object.freeze(specs.map((spec) => this.index(new TargetState(spec, settings))));
    this.usableList = this.list;
    this.refresh();
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

  /**
   * The priority levels, lowest (preferred) first; one level unless targets were given
   * a `priority` (or `backup`).
   */
  get levels(): readonly Level[] {
    return this.levelList;
  }

  /** True while no target is usable and {@link available} offers all of them. */
  get panic(): boolean {
    return this.usableList === this.list && this.list.some((target) => !target.usable);
  }

  /** How many targets are usable now. */
  get usableCount(): number {
    return this.usableList === this.list ? this.list.filter((target) => target.usable).length : this.usableList.length;
  }

  /** Active health checks changed their verdict on `target`. */
  setHealthy(target: TargetState, healthy: boolean): void {
    this.change(target, () => target.setHealthy(healthy));
  }

  /** Outlier detection took `target` out of rotation, or let it back. */
  setEjected(target: TargetState, ejected: boolean): void {
    this.change(target, () => target.setEjected(ejected));
  }

  /** Back-pressure: `target` asked for a pause with Retry-After, or its pause is over. */
  setResting(target: TargetState, resting: boolean): void {
    this.change(target, () => target.setResting(resting));
  }

  /** Whether usable targets changed: what waits for one (the queue) listens here. */
  onChange: (() => void) | undefined = undefined;

  /** Gives a current target a new weight (DNS discovery follows SRV weights). */
  setWeight(url: string, weight: number): void {
    this.list.find((target) => target.url === url)?.setWeight(weight);
  }

  /** Moves a current target to another priority level (DNS discovery follows SRV priorities). */
  setPriority(url: string, priority: number): void {
    const target = this.list.find((candidate) => candidate.url === url);
    if (target === undefined || target.priority === priority) return;
    target.setPriority(priority);
    this.refresh();
  }

  /** The current target with this opaque id, if any. */
  byStickyId(id: string): TargetState | undefined {
    return this.byId.get(id);
  }

  /** Adds a target; undefined, and nothing added, if one with the same URL is already there. */
  add(spec: TargetSpec): TargetState | undefined {
    if (this.list.some((target) => target.url === spec.url)) return undefined;
    const target = this.index(new TargetState(spec, this.settings));
    this.startSlowly(target);
    this.list = Object.freeze([...this.list, target]);
    this.refresh();
    log.pool('added %s (weight %d)', target.url, target.weight);
    return target;
  }

  /**
   * Takes the target out of {@link available} at once; the promise resolves when its
   * last in-flight request has ended. Removing a target that is still draining returns
   * the same promise; undefined for a URL that is not a target.
   */
  remove(url: string): Promise<void> | undefined {
    const target = this.list.find((candidate) => candidate.url === url);
    if (target === undefined) return this.draining.get(url);
    this.list = Object.freeze(this.list.filter((candidate) => candidate !== target));
    this.refresh();
    this.byId.delete(target.id);
    this.warming.delete(target);
    const done = target.drained();
    log.pool('removed %s, draining %d in-flight requests', url, target.inFlight);
    this.draining.set(url, done);
    void done.then(() => {
      if (this.draining.get(url) === done) this.draining.delete(url);
      log.pool('%s drained', url);
    });
    return done;
  }

  /**
   * Changes a target's availability; one that becomes usable again starts slowly (slow
   * start covers targets back from health checks, ejection and rest alike).
   */
  private change(target: TargetState, apply: () => void): void {
    const was = target.usable;
    apply();
    if (!was && target.usable) {
      target.cameBack();
      this.startSlowly(target);
    }
    if (was !== target.usable) this.refresh();
  }

  /**
   * Brings the effective weights of targets in slow start up to now: the selector calls
   * it before every pick, so without slow start a pick pays one size check.
   */
  rampUp(): void {
    if (this.warming.size === 0) return;
    for (const target of this.warming) if (!target.rampUp()) this.warming.delete(target);
  }

  private startSlowly(target: TargetState): void {
    target.startSlowly();
    if (target.rampUp()) this.warming.add(target);
  }

  /** Rebuilds {@link available} and {@link levels} after the targets or their availability changed. */
  private refresh(): void {
    const usable = this.list.filter((target) => target.usable);
    this.usableList = usable.length === this.list.length || usable.length === 0 ? this.list : Object.freeze(usable);
    const priorities = [...new Set(this.list.map((target) => target.priority))].sort((a, b) => a - b);
    this.levelList = Object.freeze(
      priorities.map((priority) => {
        const targets = Object.freeze(this.list.filter((target) => target.priority === priority));
        return Object.freeze({ priority, targets, usable: Object.freeze(targets.filter((target) => target.usable)) });
      }),
    );
    this.onChange?.();
  }

  private index(target: TargetState): TargetState {
    this.byId.set(target.id, target);
    return target;
  }
}
