import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';
import type { XForwardedMode } from '../options/config';

/**
 * Hop-by-hop headers (RFC 9110 §7.6.1, plus the legacy Keep-Alive, Proxy-Connection
 * and the proxy auth pair): they describe one connection and must not be forwarded.
 * `expect` is answered by the balancer's own server (Node sends the 100 Continue), so
 * it is not passed on either.
 */
const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
]);

const REQUEST_ONLY_DROPPED: ReadonlySet<string> = new Set(['expect']);

/**
 * What `Connection: close` lists. `close` is a connection option like any other, so a
 * field named Close goes too (RFC 9110 §7.6.1; §18.4 reserves the name for that reason).
 */
const CLOSE_ONLY: ReadonlySet<string> = new Set(['close']);

/** Header names listed in a `Connection` header: also hop-by-hop (RFC 9110 §7.6.1). */
function connectionListed(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  // Nearly every message says only one of these: no list to build (Keep-Alive is hop-by-hop already).
  if (value === 'keep-alive') return undefined;
  if (value === 'close') return CLOSE_ONLY;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const names = new Set<string>();
  // An empty entry adds "", which no header is named.
  for (const token of joined.split(',')) names.add(token.trim().toLowerCase());
  return names;
}

/** Request headers for axios; `false` means "do not send, and do not default". */
export type UpstreamHeaders = Record<string, string | string[] | false>;

export interface ForwardedHeadersTarget {
  readonly hostHeader: string;
}

/**
 * Express's compiled `trust proxy` setting (`app.get('trust proxy fn')`, built by
 * proxy-addr): may the proxy at `addr`, `hop` hops from the balancer (0 = the socket
 * peer), be believed about the hop before it?
 */
export type TrustProxy = (addr: string, hop: number) => boolean;

const TRUST_NONE: TrustProxy = () => false;

/** Express 4 and 5 both compile `trust proxy` into this setting, trusting nobody by default. */
function trustProxyOf(req: Request): TrustProxy {
  const fn: unknown = req.app?.get('trust proxy fn');
  return typeof fn === 'function' ? (fn as TrustProxy) : TRUST_NONE;
}

/**
 * Headers in which a proxy tells the next one about the client: the X-Forwarded-*
 * family, RFC 7239's Forwarded, nginx's X-Real-IP. From a peer nobody trusts they are
 * claims anyone can make, so they are not passed on.
 */
function isForwardingClaim(name: string): boolean {
  return name.startsWith('x-forwarded-') || name === 'forwarded' || name === 'x-real-ip';
}

function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** The leftmost entry of a comma-separated list: the first proxy's view, as Express's req.protocol reads it. */
function firstEntry(value: string | string[] | undefined): string | undefined {
  const list = joined(value);
  if (list === undefined) return undefined;
  const comma = list.indexOf(',');
  const first = (comma === -1 ? list : list.slice(0, comma)).trim();
  return first === '' ? undefined : first;
}

/**
 * The host[:port] the client asked for, as Express 5's `req.host` reads it: the first
 * X-Forwarded-Host entry when the peer is a proxy `trust proxy` trusts, else `Host`.
 * (Express 4's `req.host` drops the port, so it cannot be used.)
 */
export function clientFacingHost(req: Request): string | undefined {
  const peer = req.socket.remoteAddress;
  const host =
    peer !== undefined && trustProxyOf(req)(peer, 0) ? (firstEntry(req.headers['x-forwarded-host']) ?? req.headers.host) : req.headers.host;
  return host === '' ? undefined : host;
}

/**
 * X-Forwarded-For as far as `trust` believes it, then the socket peer. Read from the
 * right, each entry was written by the hop after it: the peer (hop 0) vouches for the
 * last entry, that entry, if trusted in turn, for the one before, and so on. The first
 * untrusted address is kept (it is the client as far as anyone can tell) and nothing
 * left of it is. This is the list behind Express's `req.ips`, plus the peer.
 */
export function trustedForwardedFor(peer: string, incoming: string | undefined, trust: TrustProxy): string {
  // An empty list walks no entry, like an absent one.
  if (incoming === undefined || !trust(peer, 0)) return peer;
  const entries = incoming.split(',');
  let kept = peer;
  let hop = 1;
  for (let i = entries.length - 1; i >= 0; i--) {
    const addr = entries[i]!.trim();
    if (addr === '') continue;
    kept = `${addr}, ${kept}`;
    if (!trust(addr, hop++)) break;
  }
  return kept;
}

/**
 * Headers for the upstream request: the client's end-to-end headers, `Host` set to
 * the target (unless `preserveHost`), and X-Forwarded-For/-Proto/-Host as `xForwarded`
 * says (see the `xForwarded` option).
 */
export function upstreamRequestHeaders(
  req: Request,
  target: ForwardedHeadersTarget,
  preserveHost: boolean,
  xForwarded: XForwardedMode = 'trust',
): UpstreamHeaders {
  const incoming: IncomingHttpHeaders = req.headers;
  const listed = connectionListed(incoming.connection);
  // The peer comes from the socket, never from a header.
  const peer = req.socket.remoteAddress;
  const trust = xForwarded === 'trust' ? trustProxyOf(req) : TRUST_NONE;
  // Express asks the same question for req.protocol and req.hostname: is the hop that
  // sent this request a proxy the app trusts?
  const peerTrusted = peer !== undefined && trust(peer, 0);
  const keepClaims = xForwarded === 'append' || peerTrusted;

  const out: UpstreamHeaders = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || REQUEST_ONLY_DROPPED.has(name)) continue;
    if (listed !== undefined && listed.has(name)) continue;
    if (!keepClaims && isForwardingClaim(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }

  const clientHost = incoming.host;
  out.host = preserveHost && clientHost !== undefined ? clientHost : target.hostHeader;
  if (xForwarded === false) return out;

  // From here on the headers are the balancer's own, so naming them in Connection
  // cannot strip them; an incoming value the client named there is hop-by-hop like any
  // other, and is not kept (it was not copied above).
  const priorFor = joined(out['x-forwarded-for'] as string | string[] | undefined);
  if (peer === undefined) delete out['x-forwarded-for'];
  else if (xForwarded === 'append') out['x-forwarded-for'] = priorFor === undefined || priorFor === '' ? peer : `${priorFor}, ${peer}`;
  else out['x-forwarded-for'] = trustedForwardedFor(peer, priorFor, trust);

  const proto = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  const host = clientHost === '' ? undefined : clientHost;
  const forwardedHost = peerTrusted ? (firstEntry(out['x-forwarded-host'] as string | string[] | undefined) ?? host) : host;
  out['x-forwarded-proto'] = peerTrusted ? (firstEntry(out['x-forwarded-proto'] as string | string[] | undefined) ?? proto) : proto;
  if (forwardedHost === undefined) delete out['x-forwarded-host'];
  else out['x-forwarded-host'] = forwardedHost;
  return out;
}

/**
 * Copies the upstream's end-to-end headers onto the client response; the status line
 * is written after them (response-head.ts). Repeated headers (several Set-Cookie, say)
 * stay separate values. Throws, before touching `res`, when the status cannot be a
 * final response.
 */
export function copyResponseHead(upstream: IncomingMessage, res: ServerResponse): void {
  const status = upstream.statusCode ?? 0;
  // Node's client hands 1xx other than 101 over as interim responses, so a 1xx here is
  // a 101 nobody asked for: Upgrade is hop-by-hop and never forwarded, and a server
  // must not switch protocols unasked (RFC 9110 §15.2.2). Below 100 is not HTTP
  // (RFC 9110 §15) and Node's parser lets "099" through; writeHead would throw on it.
  // Above 999 never comes: the parser refuses a status of more than three digits.
  if (status < 200) throw new RangeError(`upstream status ${status} is not a final response`);
  // headersDistinct alone: Node builds each of `headers` and `headersDistinct` on first
  // read, so reading Connection from `headers` would build the header map twice.
  const distinct = upstream.headersDistinct;
  const connection = distinct.connection;
  const listed = connectionListed(connection === undefined || connection.length > 1 ? connection : connection[0]);
  for (const name in distinct) {
    if (HOP_BY_HOP.has(name)) continue;
    if (listed !== undefined && listed.has(name)) continue;
    const values = distinct[name]!;
    res.setHeader(name, values.length === 1 ? values[0]! : values);
  }
}
