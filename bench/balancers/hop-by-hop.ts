// The hop-by-hop headers a proxy must not forward (RFC 9110 §7.6.1), for the floor
// contenders that build their upstream requests by hand.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/** `headers` without the hop-by-hop ones and with `host` set to the target's. */
export function forwardedHeaders(headers: IncomingHttpHeaders | OutgoingHttpHeaders, host: string): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) if (!HOP_BY_HOP.has(name)) out[name] = headers[name];
  out.host = host;
  return out;
}
