/**
 * Targets as users write them, checked and normalised into what the transport needs:
 * an absolute http(s) URL split into its parts.
 */
import { DEFAULTS } from './defaults';
import { MESSAGES } from './messages';
import { fail, isPlainObject, knownKeys, own, positiveNumber, wholeNumber } from './validate';

/**
 * A validated target, before the pool turns it into live state. Declared here, not in
 * config.ts: the per-target state imports it, and config.ts imports strategy types
 * that import that state, which would be an import cycle.
 */
export interface TargetSpec {
  /** Normalised URL: origin plus base path without a trailing slash. The target's identity. */
  readonly url: string;
  readonly protocol: 'http:' | 'https:';
  /** Host name as `http.request` wants it (IPv6 without brackets). */
  readonly hostname: string;
  readonly port: number;
  /** Value of the `Host` header for this target (port omitted when it is the default one). */
  readonly hostHeader: string;
  /**
   * For an https target found in DNS: the host name it was found under (the SRV record's
   * target, or the A/AAAA name), sent as the TLS server name (SNI) and checked against
   * the upstream's certificate, whatever `Host` is sent. Undefined for a target given as
   * a URL: Node then takes the name from the `Host` header (none for an IP address).
   */
  readonly serverName: string | undefined;
  /** Path prefix without a trailing slash; `''` when the target has none. */
  readonly basePath: string;
  readonly weight: number;
  /** Priority level: 0 is preferred, then 1, and so on. */
  readonly priority: number;
}

const TARGET_KEYS = ['url', 'weight', 'priority', 'backup'] as const;

/**
 * Parses one target; throws a TypeError naming it (`option "targets[i]"`, or with
 * `noun` set, say, `addTarget() argument "target"`) when it is unusable.
 */
export function parseTarget(input: unknown, option: string, noun = MESSAGES.noun.option): TargetSpec {
  let raw: unknown = input;
  let weight: number = DEFAULTS.target.weight;
  let priority: number = DEFAULTS.target.priority;
  if (isPlainObject(input)) {
    knownKeys(option, input, TARGET_KEYS, MESSAGES.objects.target, noun);
    raw = own(input, 'url');
    weight = positiveNumber(`${option}.weight`, own(input, 'weight'), DEFAULTS.target.weight, noun);
    priority = parsePriority(option, input, noun);
    option = `${option}.url`;
  }
  const m = MESSAGES.targets;
  if (typeof raw !== 'string') fail(option, m.shape, raw, noun);

  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    fail(option, m.url, raw, noun);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(option, m.scheme, raw, noun);
  if (url.port === '0') fail(option, m.port0, raw, noun);
  if (url.username !== '' || url.password !== '') fail(option, m.credentials, raw, noun);
  // `new URL` drops an empty "?" or "#", so look at the raw text as well.
  if (url.search !== '' || raw.includes('?')) fail(option, m.query, raw, noun);
  if (url.hash !== '' || raw.includes('#')) fail(option, m.fragment, raw, noun);

  const basePath = url.pathname === '/' ? '' : url.pathname.replace(/\/+$/, '');
  // Upstream paths are basePath + "/…"; one starting with "//" would read as a host.
  if (basePath.startsWith('//')) fail(option, m.doubleSlash, raw, noun);
  const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const protocol = url.protocol;
  return Object.freeze({
    url: `${url.origin}${basePath}`,
    protocol,
    hostname,
    port: url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port),
    hostHeader: url.host,
    serverName: undefined,
    basePath,
    weight,
    priority,
  });
}

/** `priority`, or `backup: true` as level 1; both at once is a mistake. */
function parsePriority(option: string, input: Record<string, unknown>, noun: string): number {
  const backup = own(input, 'backup');
  if (backup !== undefined && typeof backup !== 'boolean') fail(`${option}.backup`, MESSAGES.value.boolean, backup, noun);
  const priority = own(input, 'priority');
  if (backup !== undefined && priority !== undefined) fail(`${option}.backup`, MESSAGES.targets.backupWithPriority, backup, noun);
  if (backup === true) return DEFAULTS.target.backupPriority;
  return wholeNumber(`${option}.priority`, priority, DEFAULTS.target.priority, 0, false, noun);
}

export function parseTargets(input: unknown, option = 'targets'): TargetSpec[] {
  if (!Array.isArray(input) || input.length === 0) fail(option, MESSAGES.targets.list, input);
  const seen = new Set<string>();
  return input.map((entry, i) => {
    const spec = parseTarget(entry, `${option}[${i}]`);
    if (seen.has(spec.url)) fail(`${option}[${i}]`, MESSAGES.targets.duplicate(spec.url), entry);
    seen.add(spec.url);
    return spec;
  });
}
