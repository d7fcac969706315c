import type { Express, Request, Response } from 'express';

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

  /** Answers the oldest held request. */
  releaseOne(): void {
    const entry = this.entries.shift();
    entry?.res.type('text/plain').send(`released by ${entry.name}`);
  }
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
  const results: T[] = new Array(count);
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
