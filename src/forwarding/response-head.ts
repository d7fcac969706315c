import type { IncomingMessage } from 'node:http';
import type { Request, Response } from 'express';
import type { TargetState } from '../balancing/target';
import type { ExchangeContext } from './context';
import { copyResponseHead } from './headers';
import { rewriteResponseHead } from './response-rewrites';

/**
 * Characters Node's ServerResponse refuses in a reason phrase (it throws from
 * writeHead). Node's own parser lets some through, a NUL among them.
 */
const INVALID_REASON_CHAR = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Writes the head of `target`'s answer to the client: its end-to-end headers, the
 * response rewrites, the sticky cookie, then the status line, in one `writeHead` once
 * the head is complete (hooks on it, such as on-headers, run there as they would at the
 * first write). Throws, before touching `res`, when the status cannot be a final
 * response.
 *
 * `statusCode` and `statusMessage` are not stored on `res` beforehand: writeHead stores
 * them anyway, and each store on Express's `res` takes V8's slow path (see
 * response-relay.ts).
 */
export function writeResponseHead(ctx: ExchangeContext, req: Request, res: Response, upstream: IncomingMessage, target: TargetState): void {
  const status = upstream.statusCode ?? 0;
  copyResponseHead(upstream, res);
  // Before the sticky cookie is added: its Path is the balancer's own, not the upstream's.
  const rewrites = ctx.config.responseRewrites;
  if (rewrites !== undefined) rewriteResponseHead(rewrites, req, res, target, status);
  ctx.sticky?.respond(req, res, target);
  // The reason phrase means nothing to a client (RFC 9112 §4): an unusable one is left
  // out, and Node writes the standard one.
  const reason = upstream.statusMessage;
  if (reason && !INVALID_REASON_CHAR.test(reason)) res.writeHead(status, reason);
  else res.writeHead(status);
}
