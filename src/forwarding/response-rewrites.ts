/**
 * The response rewrites (`cookieDomainRewrite`, `cookiePathRewrite`, `autoRewrite`,
 * `hostRewrite`, `protocolRewrite`), applied to the head already copied onto the client
 * response. Only called when one of them is on.
 */
import type { ServerResponse } from 'node:http';
import type { Request } from 'express';
import type { CookieRewriteRules, LocationRewriteConfig, ResponseRewriteConfig } from '../options/config';
import { clientFacingHost } from './headers';

/** What a rewrite needs to know of the target that answered. */
export interface AnsweringTarget {
  readonly protocol: 'http:' | 'https:';
  /** host[:port] as URL's `host` writes it: lower case, default port left out. */
  readonly hostHeader: string;
  readonly basePath: string;
}

/** scheme "://" authority, then the rest of the URL as the upstream wrote it. */
const ABSOLUTE_URL = /^([a-z][a-z0-9+.-]*):\/\/([^/?#]*)(.*)$/is;

/**
 * Rewrites the Set-Cookie, Location and Content-Location headers already copied onto
 * `res` from the answer of `target`, as `rules` say. Before the sticky cookie is added.
 */
export function rewriteResponseHead(
  rules: ResponseRewriteConfig,
  req: Request,
  res: ServerResponse,
  target: AnsweringTarget,
  status: number,
): void {
  if (rules.cookieDomain !== undefined || rules.cookiePath !== undefined) {
    const cookies = res.getHeader('set-cookie');
    if (cookies !== undefined)
      res.setHeader(
        'set-cookie',
        mapValues(cookies, (cookie) => rewriteCookie(cookie, rules)),
      );
  }
  // As http-proxy: only where Location names the resource created (201, RFC 9110
  // §15.3.2) or the redirect's destination (3xx). http-proxy's list skips 303; a 303
  // to the target's own address leaks it just the same, so it is rewritten here.
  const { location } = rules;
  if (location === undefined || (status !== 201 && (status < 300 || status > 399))) return;
  for (const name of ['location', 'content-location'] as const) {
    const value = res.getHeader(name);
    if (value !== undefined)
      res.setHeader(
        name,
        mapValues(value, (url) => rewriteLocation(url, location, req, target)),
      );
  }
}

function mapValues(value: number | string | string[], rewrite: (value: string) => string): string | string[] {
  return Array.isArray(value) ? value.map(rewrite) : rewrite(String(value));
}

function rewriteCookie(cookie: string, rules: ResponseRewriteConfig): string {
  // A cookie's value cannot hold ";" (RFC 6265 §4.1.1), so the first part is name=value
  // and each later one an attribute.
  const parts = cookie.split(';');
  let changed = false;
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!;
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim().toLowerCase();
    const rule = name === 'domain' ? rules.cookieDomain : name === 'path' ? rules.cookiePath : undefined;
    if (rule === undefined) continue;
    const replacement = lookup(rule, part.slice(eq + 1).trim());
    if (replacement === undefined) continue;
    // The attribute name keeps the upstream's spelling; an empty value drops it whole.
    parts[i] = replacement === '' ? '' : `${part.slice(0, eq + 1)}${replacement}`;
    changed = true;
  }
  if (!changed) return cookie;
  return parts.filter((part, i) => i === 0 || part !== '').join(';');
}

function lookup(rule: CookieRewriteRules, value: string): string | undefined {
  return rule.exact.get(rule.ignoreCase ? value.toLowerCase() : value) ?? rule.wildcard;
}

/**
 * The URL made to point at the balancer, when it points at the target that answered
 * (same scheme, host and port; no user info or backslash); anything else comes back unchanged.
 */
function rewriteLocation(url: string, rule: LocationRewriteConfig, req: Request, target: AnsweringTarget): string {
  const match = ABSOLUTE_URL.exec(url);
  if (match === null) return url;
  const [, scheme, authority, rest] = match as unknown as [string, string, string, string];
  // A browser reads a backslash as "/" (WHATWG URL), so an authority holding one is not what it seems.
  if (`${scheme.toLowerCase()}:` !== target.protocol || authority.includes('@') || authority.includes('\\')) return url;
  let host: string;
  try {
    // Lower-cases the host and drops a default port, as the target's hostHeader is written.
    host = new URL(`${target.protocol}//${authority}`).host;
  } catch {
    return url;
  }
  if (host !== target.hostHeader) return url;
  const newScheme = rule.protocol ?? (rule.auto ? req.protocol : scheme);
  const newHost = rule.host ?? (rule.auto ? clientFacingHost(req) : undefined);
  // The mount path only means something on the balancer's host: with the target's host
  // kept (protocolRewrite alone), so is its path.
  if (newHost === undefined) return `${newScheme}://${authority}${rest}`;
  return `${newScheme}://${newHost}${mountPath(rest, target.basePath, req.baseUrl)}`;
}

/**
 * The target's base path at the front of `rest` (whole segments only) becomes the
 * mount path, undoing what forwarding did. A path outside the base path is kept.
 */
function mountPath(rest: string, basePath: string, baseUrl: string): string {
  if (basePath === baseUrl) return rest;
  if (!rest.startsWith(basePath)) return rest;
  const next = rest.charAt(basePath.length);
  if (next !== '' && next !== '/' && next !== '?' && next !== '#') return rest;
  const mapped = baseUrl + rest.slice(basePath.length);
  return mapped === '' || mapped.charAt(0) !== '/' ? `/${mapped}` : mapped;
}
