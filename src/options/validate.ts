/**
 * The checks every option goes through, so that each misuse throws a TypeError whose
 * message names the option and says what was expected.
 */

/** `noun` says what is wrong: an option of loadBalance(), or an argument of a method. */
export function fail(option: string, expected: string, got: unknown, noun = 'option'): never {
  throw new TypeError(`express-load-balance: ${noun} "${option}" ${expected}, got ${describe(got)}`);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

// Node's timers (setTimeout, socket.setTimeout) treat anything above 2^31 - 1 ms as
// 1 ms, with only a warning: a timeout of 30 days would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

export function positiveNumber(option: string, value: unknown, fallback: number, noun = 'option'): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    fail(option, 'must be a positive, finite number', value, noun);
  }
  return value;
}

export function milliseconds(option: string, value: unknown, fallback: number, noun = 'option'): number {
  const ms = positiveNumber(option, value, fallback, noun);
  if (ms > MAX_TIMER_MS) fail(option, `must be at most ${MAX_TIMER_MS} ms (Node's timer limit)`, value, noun);
  return ms;
}

/** A whole number ≥ `min` (Infinity allowed when `infinite`), or the fallback when undefined. */
export function wholeNumber(option: string, value: unknown, fallback: number, min: number, infinite = false): number {
  if (value === undefined) return fallback;
  const ok =
    typeof value === 'number' && ((infinite && value === Infinity) || (Number.isInteger(value) && value >= min));
  if (!ok) fail(option, `must be a whole number of at least ${min}${infinite ? ' (or Infinity)' : ''}`, value);
  return value as number;
}

/** A number in [0, 1], or the fallback when undefined. */
export function ratio(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail(option, 'must be a number from 0 to 1', value);
  return value;
}

/**
 * Reads only the caller's own properties: a value inherited from the prototype chain
 * (a polluted Object.prototype, say) must not become a setting.
 */
export function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** A plain object whose keys are all among `known`, else a TypeError naming the stray key. */
export function optionObject(option: string, value: unknown, known: readonly string[], noun = 'option'): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail(option, `must be an object { ${known.join(', ')} }`, value, noun);
  }
  const object = value as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) fail(`${option}.${key}`, `is not a known setting (expected ${known.join(', ')})`, object[key], noun);
  }
  return object;
}
