import type { Socket } from 'node:net';
import type { Request, Response } from 'express';

/**
 * The rest of the client's body will never be read: called before a 413 goes to
 * `next(err)`, so that whoever answers can do so at once, whatever the body's size.
 *
 * - `Connection: close`: Node closes the connection once the answer is written
 *   (`socket.destroySoon()`), instead of reading and discarding the rest of the body
 *   to reuse it.
 * - The connection is paused, so no more of the body is taken off the wire, and marked
 *   as not readable. Express's final handler (`finalhandler`) otherwise waits, before
 *   it writes anything, for the request to finish as `on-finished` sees it: the whole
 *   body read, or a request whose socket is not readable. Marked so, it answers at once;
 *   and Node's request stream no longer resumes a socket that is not readable, so
 *   whoever resumes the request (finalhandler does) reads nothing more.
 *
 * An app's own error handler still shapes the answer: it runs as usual, and only its
 * `Connection: close` must stay.
 */
export function leaveBodyUnread(req: Request, res: Response): void {
  if (!res.headersSent) res.setHeader('Connection', 'close');
  const socket = req.socket as Socket | null;
  if (socket === null || socket.destroyed) return;
  socket.pause();
  socket.readable = false;
}
