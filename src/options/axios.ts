/**
 * The `axios` option, checked once: settings that would change what is forwarded are
 * refused, and what the balancer's own instance starts from is kept.
 */
import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import type { AxiosBase } from './config';
import { MESSAGES } from './messages';
import { fail, own } from './validate';

type OwnedSetting = keyof typeof MESSAGES.axios.owned;

/**
 * Settings the balancer owns, with the value it sets. Each is what makes a proxy hop
 * transparent: the body stays a stream (`responseType`), every status and redirect goes
 * back to the client as the upstream sent it (`validateStatus`, `maxRedirects`), bytes
 * are not decoded or re-encoded (`decompress`, `transform*`), and the adapter is the
 * one that takes host and port from the chosen target (see transport.ts). A user value
 * that differs from both axios's default and ours would be silently overridden, so it
 * is refused instead; MESSAGES.axios.owned says why, setting by setting.
 */
const OWNED: ReadonlyArray<readonly [key: OwnedSetting, ours: unknown]> = [
  ['adapter', undefined],
  ['responseType', 'stream'],
  ['maxRedirects', 0],
  ['decompress', false],
  ['validateStatus', null],
  ['transformRequest', []],
  ['transformResponse', []],
  ['maxContentLength', Infinity],
  ['maxBodyLength', Infinity],
  ['timeout', 0],
  // Axios's own Node adapter speaks HTTP proxies; the balancer's adapter connects to the
  // target directly, and falling back to axios's adapter would bring back URL parsing,
  // redirects and decompression on the hop. Refused rather than silently ignored.
  ['proxy', false],
  // The upstream URL is the target plus the client's path, built by the balancer.
  ['baseURL', undefined],
  ['params', undefined],
  ['socketPath', undefined],
  ['auth', undefined],
];

/** No `axios` option: the balancer's instance starts from axios's own defaults. */
const NO_BASE: AxiosBase = Object.freeze({
  defaults: Object.freeze({}),
  request: Object.freeze([]),
  httpAgent: undefined,
  httpsAgent: undefined,
});

function sameSetting(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  // axios copies arrays (adapter, transform*) into each instance's defaults.
  return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => item === b[i]);
}

function isInstance(value: object): value is AxiosInstance {
  const candidate = value as Partial<AxiosInstance>;
  return typeof candidate.request === 'function' && typeof candidate.defaults === 'object' && typeof candidate.interceptors === 'object';
}

/** Checks the `axios` option once; throws a TypeError naming `axios.<setting>`. */
export function parseAxiosOption(input: unknown): AxiosBase {
  if (input === undefined) return NO_BASE;
  if ((typeof input !== 'object' && typeof input !== 'function') || input === null || Array.isArray(input)) {
    fail('axios', MESSAGES.axios.shape, input);
  }
  const instance = isInstance(input) ? input : undefined;
  if (instance === undefined && typeof input === 'function') fail('axios', MESSAGES.axios.shape, input);
  const defaults = (instance?.defaults ?? input) as Record<string, unknown>;
  const libraryDefaults = axios.defaults as unknown as Record<string, unknown>;
  for (const [key, ours] of OWNED) {
    const value = own(defaults, key);
    if (value === undefined || sameSetting(value, ours) || sameSetting(value, libraryDefaults[key])) continue;
    fail(`axios.${key}`, MESSAGES.axios.owned[key], value);
  }
  const httpAgent = own(defaults, 'httpAgent');
  if (httpAgent !== undefined && !(httpAgent instanceof http.Agent)) fail('axios.httpAgent', MESSAGES.axios.httpAgent, httpAgent);
  const httpsAgent = own(defaults, 'httpsAgent');
  if (httpsAgent !== undefined && !(httpsAgent instanceof https.Agent)) fail('axios.httpsAgent', MESSAGES.axios.httpsAgent, httpsAgent);
  return Object.freeze({
    defaults,
    // `handlers` holds null where an interceptor was ejected.
    request: Object.freeze((instance?.interceptors.request.handlers ?? []).filter((h) => h !== null)),
    httpAgent,
    httpsAgent,
  });
}
