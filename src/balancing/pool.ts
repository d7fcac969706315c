import type { TargetSpec } from '../options/targets';
import { log } from '../observability/log';
import { TargetState, type TargetSettings } from './target';

/**
 * The balancer's targets, in configuration order then order of addition. The pool owns
 * adding and removing them and whether each may take requests; strategies only ever
 * see {@link Pool.available}.
 */
export class Pool {
  private list: readonly TargetState[];
  private usableList: readonly TargetState[];
  private readonly byId = new Map<string, TargetState>();
  /** Removed targets whose requests are still in flight, by URL. */
  private readonly draining = new Map<string, Promise<void>>();

  constructor(
    specs: readonly TargetSpec[],
    private readonly settings: TargetSettings,
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

  /** Active health checks changed their verdict on `target`. */
  setHealthy(target: TargetState, healthy: boolean): void {
    target.setHealthy(healthy);
    this.refresh();
  }

  /** Outlier detection took `target` out of rotation, or let it back. */
  setEjected(target: TargetState, ejected: boolean): void {
    target.setEjected(ejected);
    this.refresh();
  }

  /** Gives a current target a new weight (DNS discovery follows SRV weights). */
  setWeight(url: string, weight: number): void {
    this.list.find((target) => target.url === url)?.setWeight(weight);
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

  /** Rebuilds {@link available} after a target's health or ejection changed. */
  private refresh(): void {
    const usable = this.list.filter((target) => target.usable);
    this.usableList = usable.length === this.list.length || usable.length === 0 ? this.list : Object.freeze(usable);
  }

  private index(target: TargetState): TargetState {
    this.byId.set(target.id, target);
    return target;
  }
}
