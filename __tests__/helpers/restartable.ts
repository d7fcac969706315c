import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * An upstream that can be stopped and started again on the same port, as a crashed and
 * restarted process would be: while stopped, its port refuses connections.
 */
export interface RestartableUpstream {
  readonly url: string;
  readonly port: number;
  /** Every socket accepted, across restarts. */
  readonly sockets: Socket[];
  readonly running: boolean;
  /** Closes the listener and every connection, open requests included. The port is kept. */
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
  /** Stops it for good (same as stop, and safe to call when already stopped). */
  close(): Promise<void>;
}

/** Starts `handler` on 127.0.0.1 on a port picked by the system, kept across restarts. */
export async function startRestartable(handler: http.RequestListener): Promise<RestartableUpstream> {
  const sockets: Socket[] = [];
  let server: http.Server | undefined;
  let port = 0;

  const start = async (): Promise<void> => {
    if (server !== undefined) return;
    const next = http.createServer(handler);
    next.on('connection', (socket) => sockets.push(socket));
    next.listen(port, '127.0.0.1');
    await once(next, 'listening');
    port = (next.address() as AddressInfo).port;
    server = next;
  };
  const stop = (): Promise<void> => {
    const current = server;
    if (current === undefined) return Promise.resolve();
    server = undefined;
    return new Promise<void>((resolve) => {
      current.close(() => resolve());
      current.closeAllConnections();
    });
  };

  await start();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    sockets,
    get running() {
      return server !== undefined;
    },
    stop,
    start,
    close: stop,
  };
}
