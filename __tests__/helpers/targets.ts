import { parseTarget } from '../../src/options/targets';
import { Pool } from '../../src/balancing/pool';
import type { TargetState } from '../../src/balancing/target';
import type { HashKey, StrategyContext } from '../../src/balancing/strategies/types';

/** Targets a, b, c, … (http://a:1, …) with the given weights and in-flight counts, as the pool makes them. */
export function makePool(setup: ReadonlyArray<{ weight?: number; inFlight?: number }>, ewmaWindow = 10_000): Pool {
  const specs = setup.map((entry, i) =>
    parseTarget({ url: `http://${String.fromCharCode(97 + i)}:1`, weight: entry.weight ?? 1 }, `targets[${i}]`),
  );
  const pool = new Pool(specs, { ewmaWindow, idSecret: 'unit-test-secret', clock: { now: () => 0 }, slowStart: 0 });
  pool.targets.forEach((target, i) => {
    for (let n = setup[i]!.inFlight ?? 0; n > 0; n--) target.attemptStarted();
  });
  return pool;
}

/** The one-letter name of a target made by {@link makePool}. */
export function letter(target: TargetState | undefined): string {
  return target === undefined ? '-' : target.url.slice('http://'.length, 'http://'.length + 1);
}

/**
 * A strategy context with the given parts and inert defaults for the rest; `now` is
 * shorthand for a clock that reads it.
 */
export function context(parts: Partial<StrategyContext> & { now?: () => number } = {}): StrategyContext {
  const noKey: HashKey = () => undefined;
  const { now = () => 0, ...rest } = parts;
  return { random: () => 0, clock: { now }, hashKey: noKey, ...rest };
}
