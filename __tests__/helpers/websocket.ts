// WebSocket servers and raw clients for the lb.upgrade tests, all on 127.0.0.1.
import { once } from 'node:events';
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { listen, startSwitchable, type RunningServer, type SwitchableUpstream } from './servers';

/** What a WebSocket upstream saw of one upgrade request. */
export interface SeenUpgrade {
  url: string;
  headers: IncomingHttpHeaders;
}

/** Plain HTTP requests get `<status> from <name>`, with the status the test sets. */
export interface WsUpstream extends SwitchableUpstream {
  seen: SeenUpgrade[];
}

/**
 * An upstream that echoes every WebSocket message as `<name>: <message>` and answers
 * plain HTTP requests with `status`. Its close() ends its WebSocket connections too.
 */
export async function startWsUpstream(name: string): Promise<WsUpstream> {
  const seen: SeenUpgrade[] = [];
  const running = await startSwitchable(name);
  const wss = new WebSocketServer({ server: running.server });
  wss.on('connection', (ws, req) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    // A Buffer: the server's binaryType is the default, 'nodebuffer'.
    ws.on('message', (data) => ws.send(`${name}: ${(data as Buffer).toString()}`));
  });
  const closeServer = running.close;
  return Object.assign(running, {
    seen,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of running.sockets) socket.destroy();
      await closeServer();
    },
  });
}

/** A server that records whether anything at all reached it. */
export async function startCanary(): Promise<RunningServer & { hits: string[] }> {
  const hits: string[] = [];
  const running = await listen((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    res.end('canary');
  });
  running.server.on('upgrade', (req, socket) => {
    hits.push(`upgrade ${req.url}`);
    socket.destroy();
  });
  return Object.assign(running, { hits });
}

/** A TCP server that accepts connections and never answers: an upstream stuck before its 101. */
export async function startSilent(): Promise<net.Server & { url: string; accepted: net.Socket[]; close(): Promise<void> }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((socket) => {
    // Reads (and drops) the request, so it sees the balancer hang up.
    socket.resume();
    accepted.push(socket);
    server.emit('accepted', socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  const stopListening = server.close.bind(server);
  return Object.assign(server, {
    url: `http://127.0.0.1:${port}`,
    accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of accepted) socket.destroy();
        stopListening(() => resolve());
      }),
  });
}

/**
 * Sends an upgrade request with a raw request-target over TCP (ws and node:http would
 * normalise `//host` and absolute-form) and resolves with the status line's code.
 */
export function rawUpgrade(port: number, target: string, { method = 'GET', protocol = 'websocket' } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.on('connect', () =>
      socket.write(
        `${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: ${protocol}\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        socket.destroy();
        resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0));
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(0));
  });
}

/** The front server's end of the connection `ws` is on (look it up while `ws` is open). */
export function frontSocketOf(front: RunningServer, ws: WebSocket): net.Socket {
  const local = (ws as unknown as { _socket: net.Socket })._socket.localPort;
  const socket = front.sockets.find((candidate) => candidate.remotePort === local);
  if (socket === undefined) throw new Error(`no front connection from port ${local}`);
  return socket;
}

/** Resolves once `socket` has closed. */
export async function closed(socket: net.Socket): Promise<void> {
  if (!socket.closed) await once(socket, 'close');
}
