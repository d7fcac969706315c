import { MESSAGES } from './messages';
import type { PathRewriteFunction } from './types';
import { fail } from './validate';

/**
 * Compiles the `pathRewrite` option once into a function, so no request parses a rule.
 * Rules keep http-proxy-middleware's semantics: tried in the object's key order, the
 * first rule whose expression matches is applied with `String.prototype.replace`
 * (so `$1` works), and the rest are skipped. An empty object means no rewriting.
 */
export function parsePathRewrite(input: unknown): PathRewriteFunction | undefined {
  if (input === undefined) return undefined;
  if (typeof input === 'function') return input as PathRewriteFunction;
  const proto: unknown = typeof input === 'object' && input !== null ? Object.getPrototypeOf(input) : undefined;
  if (proto !== Object.prototype && proto !== null) fail('pathRewrite', MESSAGES.pathRewrite.shape, input);
  const rules: Array<readonly [RegExp, string]> = [];
  for (const [pattern, replacement] of Object.entries(input as Record<string, unknown>)) {
    const option = `pathRewrite[${JSON.stringify(pattern)}]`;
    let regex: RegExp;
    try {
      regex = new RegExp(pattern);
    } catch (err) {
      fail(option, MESSAGES.pathRewrite.regex((err as Error).message), pattern);
    }
    if (typeof replacement !== 'string') fail(option, MESSAGES.pathRewrite.replacement, replacement);
    rules.push([regex, replacement]);
  }
  if (rules.length === 0) return undefined;
  return (path) => {
    // Non-global expressions: test() and replace() keep no state between requests.
    for (const [regex, replacement] of rules) {
      if (regex.test(path)) return path.replace(regex, replacement);
    }
    return path;
  };
}
