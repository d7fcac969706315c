import { DEFAULTS } from './defaults';
import { MESSAGES } from './messages';
import { fail, optionObject, own } from './validate';

/** The status page's settings, checked: seconds between reloads, or undefined for none. */
export interface StatusPageConfig {
  readonly refresh: number | undefined;
}

/** Checks the argument of `lb.statusHandler()`; a TypeError naming the setting for a bad one. */
export function statusPageConfig(input: unknown): StatusPageConfig {
  const noun = MESSAGES.noun.statusHandler;
  const options = input === undefined ? {} : optionObject('options', input, ['refresh'], MESSAGES.objects.settings, noun);
  const given = own(options, 'refresh');
  const refresh = given === undefined ? DEFAULTS.statusPage.refresh : given;
  if (refresh === false || refresh === 0) return { refresh: undefined };
  if (typeof refresh !== 'number' || !Number.isInteger(refresh) || refresh < 1) fail('options.refresh', MESSAGES.refresh, refresh, noun);
  return { refresh };
}
