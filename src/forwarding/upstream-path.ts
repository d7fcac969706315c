/**
 * Turns the request-target Express hands us into the path sent upstream.
 *
 * The upstream host and port never come from this string: the transport takes them
 * from the chosen target, and this module only produces a path that starts with a
 * single "/". That is why `//evil:1/x`, `/\evil`, `/@evil/` or an absolute-form
 * `http://evil/` can never reach another host (axios's own SSRF advisories,
 * CVE-2024-39338 and CVE-2025-27152, came from letting such strings become URLs).
 *
 * Nor can the path leave the target's base path: many upstreams decode `%2F`, `%5C` and
 * `%2e` once, or read `\` as `/`, before they resolve dot-segments, so `/..%2fadmin`
 * would climb out of `/v1` there (the proxy path-confusion attack). Such a path is
 * refused, whatever the case of its hex digits.
 */
import type { EncodedSlashesMode } from '../options/config';

// RFC 9112 §3.2.2 absolute-form: Node passes it through as req.url, and Express's
// router keeps the scheme://authority prefix when it strips a mount path.
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i;
const LEADING_SLASHES = /^[/\\]+/;
// A dot-segment as an upstream may see it: dots plain or %2e, between "/", "%2F" or
// "%5C" (a raw backslash is "%5C" by the time this is tested).
const DOT_SEGMENT = /(?:^|\/|%2f|%5c)(?:\.|%2e){1,2}(?:\/|%2f|%5c|$)/i;
const ENCODED_DOT = /%2e/gi;
const ENCODED_SEPARATOR = /%2f|%5c/i;
const ENCODED_SLASHES = /%2f/gi;
const ENCODED_BACKSLASHES = /%5c/gi;
/** What a decoding upstream splits a path on. */
const ANY_SEPARATOR = /\/|%2f|%5c/i;

/**
 * Returns the path (with query) relative to the target's base path, always starting
 * with exactly one "/", or `undefined` when the request must be refused with 400:
 * dot-segments would climb above the base path, for us or for an upstream that decodes
 * `%2F`/`%5C`/`%2e` once, or `encodedSlashes` is `'reject'` and the path holds one.
 */
export function relativePath(url: string, encodedSlashes: EncodedSlashesMode): string | undefined {
  // Fast path: the usual "/users?x=1".
  if (
    url.charCodeAt(0) === 47 /* / */ &&
    url.charCodeAt(1) !== 47 &&
    url.charCodeAt(1) !== 92 /* \ */ &&
    !url.includes('\\') &&
    !url.includes('/.') &&
    !url.includes('%2') &&
    !url.includes('%5') &&
    !url.includes('#')
  ) {
    return url;
  }
  return slowPath(url, encodedSlashes);
}

function slowPath(url: string, encodedSlashes: EncodedSlashesMode): string | undefined {
  let rest = url.replace(ABSOLUTE_FORM, '');
  const hash = rest.indexOf('#');
  if (hash !== -1) rest = rest.slice(0, hash);
  const q = rest.indexOf('?');
  let path = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q);

  if (encodedSlashes !== 'keep' && (ENCODED_SEPARATOR.test(path) || path.includes('\\'))) {
    // 'reject' refuses a raw backslash too: it would reach the upstream as %5C.
    if (encodedSlashes === 'reject') return undefined;
    // nginx-like: %2F becomes a separator. A decoded %5C is a backslash, sent as %5C below.
    path = path.replace(ENCODED_SLASHES, '/').replace(ENCODED_BACKSLASHES, '\\');
  }

  // A backslash is not a URI character (RFC 3986 §2), and WHATWG parsers read it as
  // "/": send it percent-encoded so no upstream can take it for a separator.
  path = '/' + path.replace(LEADING_SLASHES, '').replaceAll('\\', '%5C');

  if (DOT_SEGMENT.test(path)) {
    if (climbsWhenDecoded(path)) return undefined;
    const resolved = removeDotSegments(path);
    if (resolved === undefined) return undefined;
    // Removing dot-segments can expose an empty segment at the front ("/.//evil" and
    // "/a/..//evil" both become "//evil"), which an upstream resolving req.url against
    // its own origin would read as a host: collapse it again.
    path = '/' + resolved.replace(LEADING_SLASHES, '');
    // What we resolved can still climb for the upstream: "/a%2fb/../..%2fx" is "/..%2fx".
    if (climbsWhenDecoded(path)) return undefined;
  }
  return path + query;
}

/**
 * Whether `path` climbs above its root for an upstream that decodes it once, reads
 * "%2F" and "%5C" as "/" and "%2e" as ".", then resolves dot-segments. Empty segments
 * do not count as a level, as for nginx's `merge_slashes` (on by default): "/a//../.."
 * climbs there.
 */
function climbsWhenDecoded(path: string): boolean {
  const segments = path.split(ANY_SEPARATOR);
  let depth = 0;
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!.replace(ENCODED_DOT, '.');
    if (segment === '..') {
      if (depth === 0) return true;
      depth--;
    } else if (segment !== '.' && segment !== '') {
      depth++;
    }
  }
  return false;
}

/**
 * RFC 3986 §5.2.4 remove_dot_segments, also honouring %2e, which some upstreams decode
 * before routing. Returns `undefined` if the path climbs above its root: nginx answers
 * such a request with 400 and so do we, rather than guess what was meant.
 */
function removeDotSegments(path: string): string | undefined {
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!.replace(ENCODED_DOT, '.');
    const last = i === segments.length - 1;
    if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '..') {
      if (out.length === 0) return undefined;
      out.pop();
      if (last) out.push('');
    } else {
      out.push(segments[i]!);
    }
  }
  return '/' + out.join('/');
}

/** Joins a target's base path ("" or "/v1") with a relative path from {@link relativePath}. */
export function joinBasePath(basePath: string, relative: string): string {
  return basePath === '' ? relative : basePath + relative;
}
