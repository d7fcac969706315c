import type { Clock, Timer } from '../clock';
import type { TargetSpec } from '../options/targets';
import { log } from '../observability/log';
import { createResolver, resolveTargets } from './resolve';
import type { DnsResolver, DnsTargets } from '../options/dns-targets';

/** What discovery changes: the balancer's pool, through its add and remove. */
export interface DiscoverySink {
  /** The current targets. */
  targets(): readonly { readonly url: string; readonly weight: number; readonly priority: number }[];
  /** Gives a target discovery added the weight DNS now gives it. */
  setWeight(url: string, weight: number): void;
  /** Moves a target discovery added to the priority level DNS now gives it. */
  setPriority(url: string, priority: number): void;
  add(spec: TargetSpec): void;
  /** Takes the target out of rotation; it finishes its in-flight requests. */
  remove(url: string): void;
}

/**
 * Runs one balancer's DNS lookups: one at once, then one `interval` after each ends (so
 * lookups never overlap), and makes the pool match each answer. Only targets it added
 * are ever removed or re-weighted: one added by `lb.addTarget` stays. A failed lookup,
 * or an answer with no target, changes nothing: a stale target at worst fails over to
 * retries and outlier detection, while an empty pool would answer 503 to everything.
 */
export class DnsDiscovery {
  private readonly resolver: DnsResolver;
  private readonly cancel: () => void;
  /** URLs of the targets this discovery added and has not removed. */
  private readonly managed = new Set<string>();
  private timer: Timer | undefined;
  private closed = false;
  /** `SRV _http._tcp.api.service.consul:`, the start of every log line. */
  private readonly where: string;
  private readonly first: Promise<void>;
  private settleFirst!: (error?: Error) => void;

  constructor(
    private readonly source: DnsTargets,
    private readonly sink: DiscoverySink,
    private readonly clock: Clock,
    /** Told of each failed lookup (the balancer's `error` event); the targets stay as they were. */
    private readonly failed: (error: Error) => void,
  ) {
    ({ resolver: this.resolver, cancel: this.cancel } = createResolver(source));
    this.where = `${source.record} ${source.name}:`;
    this.first = new Promise<void>((resolve, reject) => {
      this.settleFirst = (error) => (error === undefined ? resolve() : reject(error));
    });
    // ready() may never be called: a rejection on close must not count as unhandled.
    this.first.catch(() => undefined);
    void this.lookup();
  }

  /** Resolves after the first answer that named targets; rejects if closed before it. */
  ready(): Promise<void> {
    return this.first;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    this.cancel();
    this.settleFirst(new Error(`express-load-balance: closed before DNS named any target for ${this.source.name}`));
  }

  private async lookup(): Promise<void> {
    const { source } = this;
    try {
      const specs = await resolveTargets(source, this.resolver);
      if (this.closed) return;
      if (specs.length === 0) {
        log.discovery('%s no target in the answer, keeping %d', this.where, this.managed.size);
      } else {
        this.apply(specs);
        this.settleFirst();
      }
    } catch (error) {
      if (this.closed) return;
      log.discovery('%s lookup failed, keeping %d targets: %s', this.where, this.managed.size, errorMessage(error));
      this.failed(asError(error));
    }
    this.timer = this.clock.setTimeout(() => void this.lookup(), source.interval);
  }

  private apply(specs: readonly TargetSpec[]): void {
    const wanted = new Map(specs.map((spec) => [spec.url, spec]));
    const present = new Set<string>();
    for (const target of this.sink.targets()) {
      present.add(target.url);
      if (!this.managed.has(target.url)) continue;
      const spec = wanted.get(target.url);
      if (spec === undefined) {
        this.managed.delete(target.url);
        this.sink.remove(target.url);
        log.discovery('%s %s is gone', this.where, target.url);
      } else {
        if (spec.weight !== target.weight) {
          log.discovery('%s %s weight %d -> %d', this.where, target.url, target.weight, spec.weight);
          this.sink.setWeight(target.url, spec.weight);
        }
        if (spec.priority !== target.priority) {
          log.discovery('%s %s priority %d -> %d', this.where, target.url, target.priority, spec.priority);
          this.sink.setPriority(target.url, spec.priority);
        }
      }
    }
    // Forget targets removed by lb.removeTarget meanwhile: if DNS still names them, they come back below.
    for (const url of this.managed) if (!present.has(url)) this.managed.delete(url);
    for (const spec of specs) {
      if (present.has(spec.url)) continue;
      this.sink.add(spec);
      this.managed.add(spec.url);
      log.discovery('%s new target %s (Host %s, weight %d)', this.where, spec.url, spec.hostHeader, spec.weight);
    }
  }
}

/**
 * What a lookup rejected with, as an Error: itself when it looks like one (Node's DNS
 * errors, with their `code`, may come from another realm, where instanceof misses
 * them), else a new one, as a custom resolver may reject with anything.
 */
function asError(error: unknown): Error {
  const looksLikeError = typeof error === 'object' && error !== null && typeof (error as { message?: unknown }).message === 'string';
  return looksLikeError ? (error as Error) : new Error(errorMessage(error));
}

/** An Error's message, also for one from another realm (instanceof would miss it). */
function errorMessage(error: unknown): string {
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}
