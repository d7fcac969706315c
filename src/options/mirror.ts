import type { MirrorConfig } from './config';
import { DEFAULTS } from './defaults';
import { MESSAGES } from './messages';
import { parseTarget, type TargetSpec } from './targets';
import { fail, optionObject, own, ratio, wholeNumber } from './validate';

const MIRROR_KEYS = ['targets', 'sample', 'maxBodySize', 'maxInFlight'] as const;

/** The `mirror` option: undefined (off), or where copies go and how many. */
export function parseMirror(input: unknown): MirrorConfig | undefined {
  if (input === undefined) return undefined;
  const opts = optionObject('mirror', input, MIRROR_KEYS);
  const defaults = DEFAULTS.mirror;
  return Object.freeze({
    targets: Object.freeze(parseMirrorTargets(own(opts, 'targets'))),
    sample: ratio('mirror.sample', own(opts, 'sample'), defaults.sample),
    maxBodySize: wholeNumber('mirror.maxBodySize', own(opts, 'maxBodySize'), defaults.maxBodySize, 0),
    maxInFlight: wholeNumber('mirror.maxInFlight', own(opts, 'maxInFlight'), defaults.maxInFlight, 1),
  });
}

/** Plain URL strings, checked as the main targets are; weights and priorities mean nothing here. */
function parseMirrorTargets(input: unknown): TargetSpec[] {
  const option = 'mirror.targets';
  if (!Array.isArray(input) || input.length === 0) fail(option, MESSAGES.mirror.targets, input);
  const seen = new Set<string>();
  return input.map((entry: unknown, i) => {
    if (typeof entry !== 'string') fail(`${option}[${i}]`, MESSAGES.mirror.target, entry);
    const spec = parseTarget(entry, `${option}[${i}]`);
    if (seen.has(spec.url)) fail(`${option}[${i}]`, MESSAGES.targets.duplicate(spec.url), entry);
    seen.add(spec.url);
    return spec;
  });
}
