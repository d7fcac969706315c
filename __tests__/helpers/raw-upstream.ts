// Upstreams that write raw bytes, for the responses node:http would never produce.
import { once } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface RawUpstream {
  url: string;
  port: number;
  server: net.Server;
  /** Connections the server accepted. */
  connections: number;
  /** Requests whose head the server read. */
  requests: number;
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that reads each request head and lets `answer` write
 * whatever bytes it likes: the breakage node:http would refuse to produce.
 */
export async function startRawUpstream(answer: (socket: net.Socket) => void): Promise<RawUpstream> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    raw.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString('latin1');
      if (!received.includes('\r\n\r\n')) return;
      received = '';
      raw.requests++;
      answer(socket);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const raw: RawUpstream = {
    url: `http://127.0.0.1:${port}`,
    port,
    server,
    connections: 0,
    requests: 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return raw;
}

/** Sends `head` lines, a blank line and `body`, then closes. */
export function respond(head: string[], body: string | Buffer = ''): (socket: net.Socket) => void {
  return (socket) => {
    socket.write(`${head.join('\r\n')}\r\n\r\n`, 'latin1');
    socket.end(body);
  };
}
