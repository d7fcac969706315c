import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Request } from 'express';

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

/** Header names listed in a `Connection` header: also hop-by-hop (RFC 9110 §7.6.1). */
function connectionListed(value: string | string[] | undefined): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined;
  const joined = Array.isArray(value) ? value.join(',') : value;
  const names = new Set<string>();
  for (const token of joined.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') names.add(name);
  }
  return names.size === 0 ? undefined : names;
}

/** Request headers for axios; `false` means "do not send, and do not default". */
export type UpstreamHeaders = Record<string, string | string[] | false>;

export interface ForwardedHeadersTarget {
  readonly hostHeader: string;
}

/**
 * Headers for the upstream request: the client's end-to-end headers, `Host` set to
 * the target (unless `preserveHost`), and X-Forwarded-For/-Proto/-Host.
 */
export function upstreamRequestHeaders(
  req: Request,
  target: ForwardedHeadersTarget,
  preserveHost: boolean,
): UpstreamHeaders {
  const incoming: IncomingHttpHeaders = req.headers;
  const listed = connectionListed(incoming.connection);
  const out: UpstreamHeaders = {};
  for (const name in incoming) {
    if (HOP_BY_HOP.has(name) || REQUEST_ONLY_DROPPED.has(name)) continue;
    if (listed !== undefined && listed.has(name)) continue;
    const value = incoming[name];
    if (value !== undefined) out[name] = value;
  }

  const clientHost = incoming.host;
  out.host = preserveHost && clientHost !== undefined ? clientHost : target.hostHeader;

  // Like nginx's $proxy_add_x_forwarded_for: the incoming list, then the real peer.
  // The peer comes from the socket, never from a header. Headers set from here on are
  // the balancer's own, so naming them in Connection cannot strip them; an incoming
  // list the client named there is hop-by-hop like any other, and is not kept.
  const peer = req.socket.remoteAddress;
  if (peer !== undefined) {
    const prior = listed?.has('x-forwarded-for') ? undefined : incoming['x-forwarded-for'];
    out['x-forwarded-for'] = prior === undefined || prior === '' ? peer : `${prior}, ${peer}`;
  }
  out['x-forwarded-proto'] = (req.socket as TLSSocket).encrypted ? 'https' : 'http';
  if (clientHost !== undefined) out['x-forwarded-host'] = clientHost;
  // axios adds a form Content-Type to bodiless POST/PUT/PATCH; a false value stops it
  // and is itself dropped before sending.
  if (out['content-type'] === undefined) out['content-type'] = false;
  return out;
}

/**
 * Copies the upstream's status and end-to-end headers onto the client response.
 * Repeated headers (several Set-Cookie, say) stay separate values.
 */
export function copyResponseHead(upstream: IncomingMessage, res: ServerResponse): void {
  const listed = connectionListed(upstream.headers.connection);
  const distinct = upstream.headersDistinct;
  res.statusCode = upstream.statusCode ?? 502;
  if (upstream.statusMessage) res.statusMessage = upstream.statusMessage;
  for (const name in distinct) {
    if (HOP_BY_HOP.has(name)) continue;
    if (listed !== undefined && listed.has(name)) continue;
    const values = distinct[name]!;
    res.setHeader(name, values.length === 1 ? values[0]! : values);
  }
}
