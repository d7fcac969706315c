import { parseTarget } from '../../src/options/normalize';
import { Pool, type TargetState } from '../../src/balancing/pool';
import type { HashKey, StrategyContext } from '../../src/balancing/strategies/types';

/** Targets a, b, c, … (http://a:1, …) with the given weights and in-flight counts, as the pool makes them. */
export function makePool(setup: ReadonlyArray<{ weight?: number; inFlight?: number }>, ewmaWindow = 10_000): Pool {
  const specs = setup.map((entry, i) =>
    parseTarget({ url: `http://${String.fromCharCode(97 + i)}:1`, weight: entry.weight ?? 1 }, `targets[${i}]`),
  );
  const pool = new Pool(specs, { ewmaWindow, idSecret: 'unit-test-secret' });
  pool.targets.forEach((target, i) => {
    target.inFlight = setup[i]!.inFlight ?? 0;
  });
  return pool;
}

/** The one-letter name of a target made by {@link makePool}. */
export function letter(target: TargetState | undefined): string {
  return target === undefined ? '-' : target.url.slice('http://'.length, 'http://'.length + 1);
}

/** A strategy context with the given parts and inert defaults for the rest. */
export function context(parts: Partial<StrategyContext> = {}): StrategyContext {
  const noKey: HashKey = () => undefined;
  return { random: () => 0, now: () => 0, hashKey: noKey, ...parts };
}
