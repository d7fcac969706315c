import type { Express, Request, Response } from 'express';
import type { LoadBalanceOptions } from 'express-load-balance';
import { closeAll, startBalancer, startUpstream, type Balanced, type Upstream } from './servers';

/**
 * An upstream route that holds each response until the test releases it: a target that
 * is "busy" for exactly as long as the test wants, with no timers. One holder can serve
 * several upstreams; it remembers which one holds each request.
 */
export class Holder {
  private readonly entries: Array<{ name: string; res: Response }> = [];
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  /** Mounts the holding route at `path` on the upstream called `name`. */
  route(path: string, name = ''): (app: Express) => void {
    return (app) => {
      app.all(path, (_req: Request, res: Response) => {
        this.entries.push({ name, res });
        this.waiters = this.waiters.filter((waiter) => {
          if (this.entries.length < waiter.count) return true;
          waiter.resolve();
          return false;
        });
      });
    };
  }

  /** Starts one upstream per name, each holding its requests to `path`. */
  startUpstreams(names: readonly string[], path = '/slow'): Promise<Upstream[]> {
    return Promise.all(names.map((name) => startUpstream(name, this.route(path, name))));
  }

  /** Names of the upstreams holding a request, one entry per held request. */
  get heldBy(): string[] {
    return this.entries.map((entry) => entry.name);
  }

  /** The held responses, oldest first (to watch their `close`). */
  get responses(): Response[] {
    return this.entries.map((entry) => entry.res);
  }

  /** Resolves once `count` requests are being held at the same time. */
  arrived(count: number): Promise<void> {
    if (this.entries.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  /** Answers every request held so far. */
  releaseAll(): void {
    for (const { name, res } of this.entries.splice(0)) res.type('text/plain').send(`released by ${name}`);
  }

  /** Answers the oldest request held by the upstream called `name`. */
  release(name: string): void {
    const i = this.entries.findIndex((entry) => entry.name === name);
    if (i === -1) throw new Error(`no request held by ${name}`);
    const [entry] = this.entries.splice(i, 1);
    entry!.res.type('text/plain').send(`released by ${name}`);
  }

  /** Answers the oldest held request. */
  releaseOne(): void {
    const entry = this.entries.shift();
    entry?.res.type('text/plain').send(`released by ${entry.name}`);
  }
}

/** Upstreams that hold `/slow` (see {@link startHeldBalancer}), all of them targets of one balancer. */
export interface HeldBalancer {
  holder: Holder;
  upstreams: Upstream[];
  balanced: Balanced;
  url: string;
  /** How many `/fast` requests the upstream called `name` received. */
  fastCount: (name: string) => number;
  /** Releases what is held, then closes the balancer and the upstreams. */
  close: () => Promise<void>;
}

/** One upstream per name, each holding requests to `/slow`, behind a balancer with these options. */
export async function startHeldBalancer(names: readonly string[], options: Omit<LoadBalanceOptions, 'targets'>): Promise<HeldBalancer> {
  const holder = new Holder();
  const upstreams = await holder.startUpstreams(names);
  const balanced = await startBalancer({ ...options, targets: upstreams.map((u) => u.url) });
  return {
    holder,
    upstreams,
    balanced,
    url: balanced.url,
    fastCount: (name) => upstreams[names.indexOf(name)]!.seen.filter((r) => r.url === '/fast').length,
    close: async () => {
      holder.releaseAll();
      await closeAll(balanced, ...upstreams);
    },
  };
}

/** A small deterministic PRNG (mulberry32) so distribution tests never flake. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Plays back the given numbers as `random()` results, in order (then fails loudly). */
export function scriptedRandom(values: readonly number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error('scriptedRandom: ran out of values');
    return values[i++]!;
  };
}

/** Runs `count` tasks with at most `concurrency` at once; results in task order. */
export async function runConcurrently<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      results[i] = await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}
