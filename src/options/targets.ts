/**
 * Targets as users write them, and as the balancer keeps them once checked: an
 * absolute http(s) URL, normalised, split into what the transport needs.
 */
import { fail, own, positiveNumber } from './validate';

/**
 * One upstream server: an absolute `http:` or `https:` URL, optionally with a base
 * path (`http://10.0.0.5:3000/v1`), or an object with that URL and a weight.
 * @public
 */
export type TargetInput =
  | string
  | {
      /** The target's absolute `http:` or `https:` URL, optionally with a base path. */
      url: string;
      /** Its share of requests relative to the others, a positive number. Default 1. */
      weight?: number;
    };

/** A validated target, before the pool turns it into live state. */
export interface TargetSpec {
  /** Normalised URL: origin plus base path without a trailing slash. The target's identity. */
  readonly url: string;
  readonly protocol: 'http:' | 'https:';
  /** Host name as `http.request` wants it (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** Value of the `Host` header for this target (port omitted when it is the default one). */
  readonly hostHeader: string;
  /** Path prefix without a trailing slash; `''` when the target has none. */
  readonly basePath: string;
  readonly weight: number;
}

/**
 * Parses one target; throws a TypeError naming it (`option "targets[i]"`, or with
 * `noun` set, say, `addTarget() argument "target"`) when it is unusable.
 */
export function parseTarget(input: unknown, option: string, noun = 'option'): TargetSpec {
  let raw: unknown = input;
  let weight = 1;
  if (typeof input === 'object' && input !== null && !Array.isArray(input)) {
    const entry = input as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (key !== 'url' && key !== 'weight') fail(`${option}.${key}`, 'is not a target option (expected url, weight)', entry[key], noun);
    }
    raw = own(entry, 'url');
    weight = positiveNumber(`${option}.weight`, own(entry, 'weight'), 1, noun);
    option = `${option}.url`;
  }
  if (typeof raw !== 'string') fail(option, 'must be an absolute http(s) URL string or { url, weight }', raw, noun);

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(option, 'must be an absolute http(s) URL', raw, noun);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(option, 'must use http: or https:', raw, noun);
  if (url.port === '0') fail(option, 'must not use port 0', raw, noun);
  if (url.username !== '' || url.password !== '') fail(option, 'must not carry credentials', raw, noun);
  // `new URL` drops an empty "?" or "#", so look at the raw text as well.
  if (url.search !== '' || raw.includes('?')) fail(option, 'must not have a query string', raw, noun);
  if (url.hash !== '' || raw.includes('#')) fail(option, 'must not have a fragment', raw, noun);

  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  // Upstream paths are basePath + "/…"; one starting with "//" would read as a host.
  if (basePath.startsWith('//')) fail(option, 'must not have a path starting with "//"', raw, noun);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const protocol = url.protocol;
  return Object.freeze({
    url: `${url.origin}${basePath}`,
    protocol,
    hostname,
    port: url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port),
    hostHeader: url.host,
    basePath,
    weight,
  });
}

export function parseTargets(input: unknown, option = 'targets'): TargetSpec[] {
  if (!Array.isArray(input) || input.length === 0) {
    fail(option, 'must be a non-empty array of target URLs, or dnsTargets(...)', input);
  }
  const seen = new Set<string>();
  return input.map((entry, i) => {
    const spec = parseTarget(entry, `${option}[${i}]`);
    if (seen.has(spec.url)) fail(`${option}[${i}]`, `duplicates another target (${spec.url})`, entry);
    seen.add(spec.url);
    return spec;
  });
}
