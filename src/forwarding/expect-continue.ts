import type { Response } from 'express';

/** What Node's server keeps on a response about `Expect: 100-continue` (lib/_http_server.js). */
interface ContinueState {
  /** True when the request asked for `100-continue`. */
  _expect_continue?: boolean;
  /** True once `100 Continue` was written. */
  _sent100?: boolean;
}

/**
 * Sends `100 Continue` to a client that asked for it and has not had it, as its body is
 * about to be forwarded. Node sends it itself, before the app sees the request, unless
 * the server listens to `checkContinue`; an app that does (`server.on('checkContinue',
 * app)`) lets an oversized `Content-Length` get its 413 before the client sends the
 * body, and the balancer then says "continue" to the requests it forwards.
 *
 * Node has no public flag for either fact, so its own two fields are read; should they
 * ever be missing, nothing is sent and the client goes on after its own wait (RFC 9110
 * §10.1.1 lets it).
 */
export function continueIfAwaited(res: Response): void {
  const state = res as Response & ContinueState;
  if (state._expect_continue === true && state._sent100 === false && !res.headersSent) res.writeContinue();
}
