/**
 * The checks every option goes through, so that each misuse throws a TypeError whose
 * message (from MESSAGES) names the option and says what was expected.
 */
import { MESSAGES, sentence, type ObjectWording } from './messages';

/** The one throw of the options code: `message` is an entry of MESSAGES, or built from one. */
export function refuse(message: string): never {
  throw new TypeError(`express-load-balance: ${message}`);
}

/** `noun` says what is wrong: an option of loadBalance(), or an argument of a method. */
export function fail(option: string, expected: string, got: unknown, noun = MESSAGES.noun.option): never {
  refuse(sentence(noun, option, expected, got));
}

// Node's timers (setTimeout, socket.setTimeout) treat anything above 2^31 - 1 ms as
// 1 ms, with only a warning: a timeout of 30 days would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;

export function positiveNumber(option: string, value: unknown, fallback: number, noun = MESSAGES.noun.option): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) fail(option, MESSAGES.value.positive, value, noun);
  return value;
}

export function milliseconds(option: string, value: unknown, fallback: number, noun = MESSAGES.noun.option): number {
  const ms = positiveNumber(option, value, fallback, noun);
  if (ms > MAX_TIMER_MS) fail(option, MESSAGES.value.timerLimit(MAX_TIMER_MS), value, noun);
  return ms;
}

/** A whole number ≥ `min` (Infinity allowed when `infinite`), or the fallback when undefined. */
export function wholeNumber(
  option: string,
  value: unknown,
  fallback: number,
  min: number,
  infinite = false,
  noun = MESSAGES.noun.option,
): number {
  if (value === undefined) return fallback;
  const ok = typeof value === 'number' && ((infinite && value === Infinity) || (Number.isInteger(value) && value >= min));
  if (!ok) fail(option, MESSAGES.value.wholeNumber(min, infinite), value, noun);
  return value;
}

/** A number in [0, 1], or the fallback when undefined. */
export function ratio(option: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) fail(option, MESSAGES.value.ratio, value);
  return value;
}

/**
 * Reads only the caller's own properties: a value inherited from the prototype chain
 * (a polluted Object.prototype, say) must not become a setting.
 */
export function own(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** An object that is neither null nor an array; its prototype is not looked at. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The one check for unknown keys, whatever the object (the options, `sticky`, a target,
 * a group of settings): a TypeError for the first own key outside `known`.
 */
export function knownKeys(
  option: string,
  object: Record<string, unknown>,
  known: readonly string[],
  wording: ObjectWording,
  noun = MESSAGES.noun.option,
): void {
  for (const key of Object.keys(object)) {
    if (!known.includes(key)) refuse(wording.unknownKey(`${option}.${key}`, key, object[key], known, noun));
  }
}

/** A plain object whose keys are all among `known`, else a TypeError worded by `wording`. */
export function optionObject(
  option: string,
  value: unknown,
  known: readonly string[],
  wording: ObjectWording = MESSAGES.objects.settings,
  noun = MESSAGES.noun.option,
): Record<string, unknown> {
  if (!isPlainObject(value)) fail(option, wording.notObject(known), value, noun);
  knownKeys(option, value, known, wording, noun);
  return value;
}
