/**
 * Every message a misused option or argument gets, in one table (as
 * http-proxy-middleware's `ERRORS`). Most entries are the phrase that says what was
 * expected; `fail()` puts it in the one sentence shape, `<noun> "<option>" <phrase>,
 * got <value>`. Tests and users match on these texts: change one only on purpose.
 */
import { deepFreeze } from './freeze';

/** What the value was, short: a string is quoted, an object is not dumped. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  // What is left is a primitive (TypeScript does not narrow `unknown` by exclusion).
  const primitive = value as number | bigint | boolean | symbol | undefined;
  return String(primitive);
}

/** The sentence of an expectation that failed. `noun` is "option" or what else was given. */
export function sentence(noun: string, option: string, expected: string, got: unknown): string {
  return `${noun} "${option}" ${expected}, got ${describe(got)}`;
}

/** How an object of settings words its two refusals; see `optionObject()`. */
export interface ObjectWording {
  /** The phrase for a value that is not a plain object. */
  readonly notObject: (known: readonly string[]) => string;
  /** The whole message for a key outside `known`, found at `path` (`<option>.<key>`). */
  readonly unknownKey: (path: string, key: string, value: unknown, known: readonly string[], noun: string) => string;
}

const list = (known: readonly string[]): string => known.join(', ');

const isNot =
  (what: string): ObjectWording['unknownKey'] =>
  (path, _key, value, known, noun) =>
    sentence(noun, path, `is not ${what} (expected ${list(known)})`, value);

const TARGET_SHAPE = 'must be an absolute http(s) URL string or { url, weight, priority, backup }';

export const MESSAGES = deepFreeze({
  noun: { option: 'option', dnsTargets: 'dnsTargets() argument', close: 'close() argument', statusHandler: 'statusHandler() argument' },

  objects: {
    options: {
      notObject: () => 'must be an object or (targets, strategy)',
      unknownKey: (_path, key, _value, known) => `unknown option "${key}" (known options: ${list(known)})`,
    },
    sticky: { notObject: () => 'must be an object { cookie?, secret? }', unknownKey: isNot('a sticky option') },
    target: { notObject: () => TARGET_SHAPE, unknownKey: isNot('a target option') },
    settings: { notObject: (known) => `must be an object { ${list(known)} }`, unknownKey: isNot('a known setting') },
    hedge: {
      notObject: () => "must be false or an object { delay?: ms | 'p90' | 'p95' | 'p99', max?: 1-3 }",
      unknownKey: (path, _key, value, known, noun) =>
        sentence(
          noun,
          path,
          `is not a hedge setting (expected ${list(known)}; only GET, HEAD and OPTIONS without a body are hedged)`,
          value,
        ),
    },
  } satisfies Record<string, ObjectWording>,

  value: {
    positive: 'must be a positive, finite number',
    timerLimit: (max: number) => `must be at most ${max} ms (Node's timer limit)`,
    wholeNumber: (min: number, infinite: boolean) => `must be a whole number of at least ${min}${infinite ? ' (or Infinity)' : ''}`,
    ratio: 'must be a number from 0 to 1',
    percent: 'must be a number from 0 to 100',
    boolean: 'must be a boolean',
    string: 'must be a string',
    required: 'is required',
    status: 'must be an HTTP status code (100-599)',
  },

  /** Whole messages: `lb.addTarget()` / `lb.removeTarget()` given a URL that is, or is not, a target. */
  live: {
    present: (url: string) => `addTarget(): ${url} is already a target`,
    absent: (url: string) => `removeTarget(): ${url} is not a target`,
  },

  /** A whole message: the `strategy` argument of `loadBalance(options, strategy)`. */
  shorthand: 'a strategy argument goes with a targets array; put it in the options object instead',
  strategy: {
    name: (names: readonly string[]) => `must be one of ${list(names)}, a function or an object with pick()`,
    /** A whole message. */
    shape: 'option "strategy" must be a strategy name, a function (targets, req) => target, or an object with pick()',
  },
  hashKey: {
    function: 'must be a function (req) => string | undefined',
    strategy: 'only applies to strategy "consistent-hash"',
  },
  refresh: 'must be a whole number of seconds of at least 1, or false (or 0) for no reload',
  xForwarded: "must be 'append', 'replace' or false (unset: follow the app's trust proxy setting)",
  encodedSlashes: "must be 'keep', 'decode' or 'reject'",
  sticky: {
    cookie: 'must be a cookie name (an RFC 6265 token)',
    /** Given the secret's length, never the secret: messages end up in logs. */
    secretLength: (min: number) => `must be at least ${min} characters`,
  },

  targets: {
    list: 'must be a non-empty array of target URLs, or dnsTargets(...)',
    backupWithPriority: 'cannot be given with priority (backup: true is priority 1)',
    duplicate: (url: string) => `duplicates another target (${url})`,
    shape: TARGET_SHAPE,
    url: 'must be an absolute http(s) URL',
    scheme: 'must use http: or https:',
    port0: 'must not use port 0',
    credentials: 'must not carry credentials',
    query: 'must not have a query string',
    fragment: 'must not have a fragment',
    doubleSlash: 'must not have a path starting with "//"',
  },

  mirror: {
    targets: 'must be a non-empty array of mirror URLs',
    target: 'must be an absolute http(s) URL string',
  },

  resilience: {
    retryOn: 'must be an array of HTTP status codes',
    minPerSecond: 'must be a finite number of at least 0',
    healthPath: 'must be a path starting with a single "/"',
    statusRange: 'must be [lowest, highest]',
  },

  responseRewrites: {
    cookieShape: "must be false, a string, or an object { [old]: new } ('*' matches any value)",
    cookieValue: 'must be a string without control characters or ";" (an empty string removes the attribute)',
    host: "must be a host or host:port, such as 'example.com' or 'example.com:8443'",
    protocol: "must be 'http' or 'https'",
  },

  hedge: {
    delay: "must be a positive number of ms or 'p90', 'p95' or 'p99'",
    max: 'must be a whole number from 1 to 3',
  },

  pathRewrite: {
    shape: "must be an object of rules { '^/old': '/new' } or a function (path, req) => string",
    regex: (reason: string) => `must be a valid regular expression (${reason})`,
    replacement: 'must be a string replacement',
  },

  axios: {
    shape: 'must be an axios instance or an axios config object',
    httpAgent: 'must be an http.Agent',
    httpsAgent: 'must be an https.Agent',
    /** Settings the balancer owns (see OWNED in axios.ts): why each must stay at axios's default. */
    owned: {
      adapter:
        "must be left unset: upstream requests go through the balancer's own adapter, which takes host and port from the chosen target",
      responseType: "must be unset or 'stream': responses are streamed to the client",
      maxRedirects: 'must be unset or 0: redirects go back to the client',
      decompress: 'must be unset or false: bodies are forwarded as the upstream encoded them',
      validateStatus: 'must be unset or null: every upstream status is forwarded',
      transformRequest: 'must be unset or []: bodies are forwarded byte for byte',
      transformResponse: 'must be unset or []: bodies are forwarded byte for byte',
      maxContentLength: 'must be unset: bodies are streamed, not buffered',
      maxBodyLength: 'must be unset: bodies are streamed, not buffered',
      timeout: "must be unset: use loadBalance's timeout and connectTimeout options",
      proxy: 'must be unset or false: the balancer connects to its targets directly',
      baseURL: 'must be left unset: the target decides where requests go',
      params: "must be left unset: the client's query string is forwarded as it is",
      socketPath: 'must be left unset: the target decides where requests go',
      auth: 'must be left unset: set an Authorization header (headers.common) or in an interceptor',
    },
  },

  dns: {
    name: 'must be a DNS name',
    srvPort: 'does not apply to an SRV name: its records give the ports',
    portRequired: 'is required for an A/AAAA name',
    port: 'must be a whole number from 1 to 65535',
    protocol: "must be 'http' or 'https'",
    resolver: 'must have resolveSrv, resolve4 and resolve6 methods',
    servers: "must be a non-empty array of 'ip' or 'ip:port' strings",
    serversAndResolver: 'cannot be given with options.resolver',
    basePathStart: "must be a path starting with '/'",
    basePath: "must be a path without a query, a fragment or a leading '//'",
  },
});
