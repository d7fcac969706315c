/**
 * The options of loadBalance(), checked once into the frozen {@link BalancerConfig}
 * the balancer runs on.
 */
import type { TargetState } from '../balancing/target';
import type { Strategy, StrategyFactory } from '../balancing/strategies/types';
import { parseAxiosOption } from './axios';
import type { BalancerConfig, StickyConfig, StrategyConfig } from './config';
import { DEFAULTS } from './defaults';
import { isDnsTargets } from './dns-targets';
import { MESSAGES } from './messages';
import { parseMirror } from './mirror';
import { parsePathRewrite } from './path-rewrite';
import { parseResilience, RESILIENCE_KEYS } from './resilience';
import { parseResponseRewrites, RESPONSE_REWRITE_KEYS } from './response-rewrites';
import { parseTargets } from './targets';
import { fail, milliseconds, optionObject, own, positiveNumber, refuse, wholeNumber } from './validate';

// For src/forwarding/headers.ts, which still imports it from here.
export type { LoadBalanceOptions } from './types';

const KNOWN_OPTIONS = [
  'targets',
  'strategy',
  'hashKey',
  'sticky',
  'ewmaWindow',
  'timeout',
  'keepAliveTimeout',
  'preserveHost',
  'maxBodySize',
  'xForwarded',
  'axios',
  'pathRewrite',
  'encodedSlashes',
  'mirror',
  ...RESILIENCE_KEYS,
  ...RESPONSE_REWRITE_KEYS,
] as const;

const STICKY_KEYS = ['cookie', 'secret'] as const;
/** RFC 6265 §4.1.1: a cookie name is an RFC 2616 token. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Shared by every process that honours the others' cookies, so it must resist guessing. */
const MIN_SECRET_LENGTH = 16;

/**
 * Validates user options once, at construction, into a frozen {@link BalancerConfig}
 * with every default filled in. Throws a `TypeError` naming the faulty option.
 * `strategies` are the built-in strategies by name (the caller's table, so that the
 * options never load strategy code).
 */
export function normalizeOptions(options: unknown, strategies: Readonly<Record<string, StrategyFactory>>): BalancerConfig {
  const opts = optionObject('options', options, KNOWN_OPTIONS, MESSAGES.objects.options);
  // Only `undefined` means "use the default": a null is a mistake, reported like any other.
  const strategyOption = own(opts, 'strategy');
  const strategy = strategyOption === undefined ? DEFAULTS.strategy : strategyOption;
  const preserveHost = own(opts, 'preserveHost');
  if (preserveHost !== undefined && typeof preserveHost !== 'boolean') fail('preserveHost', MESSAGES.value.boolean, preserveHost);
  const xForwarded = own(opts, 'xForwarded');
  if (xForwarded !== undefined && xForwarded !== 'append' && xForwarded !== 'replace' && xForwarded !== false) {
    fail('xForwarded', MESSAGES.xForwarded, xForwarded);
  }
  const encodedSlashes = own(opts, 'encodedSlashes');
  if (encodedSlashes !== undefined && encodedSlashes !== 'keep' && encodedSlashes !== 'decode' && encodedSlashes !== 'reject') {
    fail('encodedSlashes', MESSAGES.encodedSlashes, encodedSlashes);
  }
  const hashKey = own(opts, 'hashKey');
  if (hashKey !== undefined) {
    if (typeof hashKey !== 'function') fail('hashKey', MESSAGES.hashKey.function, hashKey);
    if (strategy !== 'consistent-hash') fail('hashKey', MESSAGES.hashKey.strategy, strategy);
  }

  const targets = own(opts, 'targets');
  const discovery = isDnsTargets(targets) ? targets : undefined;

  return Object.freeze({
    targets: Object.freeze(discovery === undefined ? parseTargets(targets) : []),
    discovery,
    strategy: parseStrategy(strategy, strategies),
    hashKey: (hashKey as BalancerConfig['hashKey'] | undefined) ?? DEFAULTS.hashKey,
    sticky: parseSticky(own(opts, 'sticky')),
    ewmaWindow: positiveNumber('ewmaWindow', own(opts, 'ewmaWindow'), DEFAULTS.ewmaWindow),
    timeout: milliseconds('timeout', own(opts, 'timeout'), DEFAULTS.timeout),
    keepAliveTimeout: milliseconds('keepAliveTimeout', own(opts, 'keepAliveTimeout'), DEFAULTS.keepAliveTimeout),
    preserveHost: preserveHost ?? DEFAULTS.preserveHost,
    maxBodySize: wholeNumber('maxBodySize', own(opts, 'maxBodySize'), DEFAULTS.maxBodySize, 0, true),
    xForwarded: xForwarded ?? DEFAULTS.xForwarded,
    resilience: parseResilience(opts),
    axios: parseAxiosOption(own(opts, 'axios')),
    pathRewrite: parsePathRewrite(own(opts, 'pathRewrite')),
    encodedSlashes: encodedSlashes ?? DEFAULTS.encodedSlashes,
    responseRewrites: parseResponseRewrites(opts),
    mirror: parseMirror(own(opts, 'mirror')),
  });
}

function parseStrategy(option: unknown, strategies: Readonly<Record<string, StrategyFactory>>): StrategyConfig {
  if (typeof option === 'string') {
    const factory = Object.hasOwn(strategies, option) ? strategies[option] : undefined;
    if (factory === undefined) fail('strategy', MESSAGES.strategy.name(Object.keys(strategies)), option);
    return Object.freeze({ kind: 'built-in', name: option, factory });
  }
  // The `{ pick }` made for a function stays unfrozen: it is `this` in the user's
  // function, as it always was.
  if (typeof option === 'function') return Object.freeze({ kind: 'custom', strategy: { pick: option as Strategy<TargetState>['pick'] } });
  if (typeof option === 'object' && option !== null && typeof (option as { pick?: unknown }).pick === 'function') {
    return Object.freeze({ kind: 'custom', strategy: option as Strategy<TargetState> });
  }
  refuse(MESSAGES.strategy.shape);
}

function parseSticky(input: unknown): StickyConfig | undefined {
  if (input === undefined) return undefined;
  const sticky = optionObject('sticky', input, STICKY_KEYS, MESSAGES.objects.sticky);
  const cookieOption = own(sticky, 'cookie');
  const cookie = cookieOption === undefined ? DEFAULTS.sticky.cookie : cookieOption;
  if (typeof cookie !== 'string' || !COOKIE_NAME.test(cookie)) fail('sticky.cookie', MESSAGES.sticky.cookie, cookie);
  const secret = own(sticky, 'secret');
  if (secret !== undefined && typeof secret !== 'string') fail('sticky.secret', MESSAGES.value.string, secret);
  // The length, never the secret, goes into the message (and so into logs).
  if (typeof secret === 'string' && secret.length < MIN_SECRET_LENGTH) {
    fail('sticky.secret', MESSAGES.sticky.secretLength(MIN_SECRET_LENGTH), secret.length);
  }
  return Object.freeze({ cookie, secret });
}
