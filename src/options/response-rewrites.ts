/**
 * The response rewrites http-proxy-middleware users know (`cookieDomainRewrite`,
 * `cookiePathRewrite`, `autoRewrite`, `hostRewrite`, `protocolRewrite`), checked once
 * into rules the forwarding code applies without parsing anything per response.
 */
import type { CookieRewriteRules, LocationRewriteConfig, ResponseRewriteConfig } from './config';
import { DEFAULTS } from './defaults';
import { MESSAGES } from './messages';
import { fail, isPlainObject, own } from './validate';

/** The keys of `ResponseRewriteOptions`, for the unknown-option check. */
export const RESPONSE_REWRITE_KEYS = ['cookieDomainRewrite', 'cookiePathRewrite', 'autoRewrite', 'hostRewrite', 'protocolRewrite'] as const;

/**
 * RFC 6265 §4.1.1: an attribute value is any US-ASCII character but a control
 * character or ";". A value that breaks this would make Node's setHeader throw
 * mid-response, or smuggle attributes into every cookie.
 */
const COOKIE_ATTRIBUTE_VALUE = /^[\x20-\x3a\x3c-\x7e]*$/;
/** host or host:port: no scheme, user info, path, query, fragment or space. */
const HOST = /^[^\s/?#@\\]+$/;

/**
 * Everything the five options ask for, or `undefined` when none is on: the balancer
 * then never looks at a response header for them.
 */
export function parseResponseRewrites(opts: Record<string, unknown>): ResponseRewriteConfig | undefined {
  const cookieDomain = parseCookieRules(
    'cookieDomainRewrite',
    orDefault(own(opts, 'cookieDomainRewrite'), DEFAULTS.cookieDomainRewrite),
    true,
  );
  const cookiePath = parseCookieRules('cookiePathRewrite', orDefault(own(opts, 'cookiePathRewrite'), DEFAULTS.cookiePathRewrite), false);
  const location = parseLocation(opts);
  if (cookieDomain === undefined && cookiePath === undefined && location === undefined) return undefined;
  return Object.freeze({ cookieDomain, cookiePath, location });
}

/**
 * `false` or unset: off. A string: every value becomes it (`'*'` in a map). A map:
 * `{ old: new }`, with `'*'` for any value not listed. An empty new value removes the
 * attribute. Domains are matched without regard to case (RFC 6265 §5.1.3); paths
 * exactly.
 */
function parseCookieRules(option: string, input: unknown, ignoreCase: boolean): CookieRewriteRules | undefined {
  if (input === false) return undefined;
  if (typeof input === 'string')
    return Object.freeze({ exact: new Map<string, string>(), wildcard: attributeValue(option, input), ignoreCase });
  const proto: unknown = isPlainObject(input) ? Object.getPrototypeOf(input) : undefined;
  if (proto !== Object.prototype && proto !== null) fail(option, MESSAGES.responseRewrites.cookieShape, input);
  const exact = new Map<string, string>();
  let wildcard: string | undefined;
  for (const [from, to] of Object.entries(input as Record<string, unknown>)) {
    const value = attributeValue(`${option}[${JSON.stringify(from)}]`, to);
    if (from === '*') wildcard = value;
    else exact.set(ignoreCase ? from.toLowerCase() : from, value);
  }
  if (exact.size === 0 && wildcard === undefined) return undefined;
  return Object.freeze({ exact, wildcard, ignoreCase });
}

/** Only `undefined` means "the default": a null is a mistake, reported like any other. */
function orDefault(value: unknown, fallback: unknown): unknown {
  return value === undefined ? fallback : value;
}

function attributeValue(option: string, value: unknown): string {
  if (typeof value !== 'string' || !COOKIE_ATTRIBUTE_VALUE.test(value)) fail(option, MESSAGES.responseRewrites.cookieValue, value);
  return value;
}

function parseLocation(opts: Record<string, unknown>): LocationRewriteConfig | undefined {
  const auto = orDefault(own(opts, 'autoRewrite'), DEFAULTS.autoRewrite);
  if (typeof auto !== 'boolean') fail('autoRewrite', MESSAGES.value.boolean, auto);
  const host = own(opts, 'hostRewrite');
  if (host !== undefined && (typeof host !== 'string' || !HOST.test(host) || !URL.canParse(`http://${host}`))) {
    fail('hostRewrite', MESSAGES.responseRewrites.host, host);
  }
  const protocol = own(opts, 'protocolRewrite');
  if (protocol !== undefined && protocol !== 'http' && protocol !== 'https')
    fail('protocolRewrite', MESSAGES.responseRewrites.protocol, protocol);
  if (!auto && host === undefined && protocol === undefined) return undefined;
  return Object.freeze({ auto, host, protocol });
}
