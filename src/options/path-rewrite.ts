import type { Request } from 'express';
import { fail } from './validate';

/**
 * The `pathRewrite` option, as http-proxy-middleware users know it: rules
 * `{ '^/old': '/new' }` whose keys are regular expressions, or a function.
 * @public
 */
export type PathRewrite = Readonly<Record<string, string>> | PathRewriteFunction;

/**
 * Rewrites the path and query (relative to the mount point, already sanitised) before
 * the target's base path is prepended. Synchronous; what it returns is sanitised again.
 * @public
 */
export type PathRewriteFunction = (path: string, req: Request) => string;

/**
 * Compiles the `pathRewrite` option once into a function, so no request parses a rule.
 * Rules keep http-proxy-middleware's semantics: tried in the object's key order, the
 * first rule whose expression matches is applied with `String.prototype.replace`
 * (so `$1` works), and the rest are skipped. An empty object means no rewriting.
 */
export function parsePathRewrite(input: unknown): PathRewriteFunction | undefined {
  if (input === undefined) return undefined;
  if (typeof input === 'function') return input as PathRewriteFunction;
  const proto = typeof input === 'object' && input !== null ? Object.getPrototypeOf(input) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    fail('pathRewrite', "must be an object of rules { '^/old': '/new' } or a function (path, req) => string", input);
  }
  const rules: Array<readonly [RegExp, string]> = [];
  for (const [pattern, replacement] of Object.entries(input as Record<string, unknown>)) {
    const option = `pathRewrite[${JSON.stringify(pattern)}]`;
    let regex: RegExp;
    try {
      regex = new RegExp(pattern);
    } catch (err) {
      fail(option, `must be a valid regular expression (${(err as Error).message})`, pattern);
    }
    if (typeof replacement !== 'string') fail(option, 'must be a string replacement', replacement);
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
