import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { WebSocketServer } from 'ws';
import { findExecutable } from './executables';

/** The openssl CLI's path; undefined when it is not installed. */
export const OPENSSL: string | undefined = findExecutable('openssl');

export interface TestCert {
  key: Buffer;
  cert: Buffer;
}

/** A self-signed certificate for `name` alone (its CN and only subjectAltName), made by the openssl CLI. */
export function selfSignedCert(name: string): TestCert {
  if (OPENSSL === undefined) throw new Error('openssl is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'elb-cert-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync(
      OPENSSL,
      // prettier-ignore
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', cert],
      { stdio: 'ignore' },
    );
    return { key: readFileSync(key), cert: readFileSync(cert) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What an HTTPS upstream saw of one request. */
export interface SeenTlsRequest {
  url: string;
  host: string | undefined;
  /** The TLS server name the client sent on this request's connection; false for none. */
  servername: string | false;
}

export interface HttpsUpstream {
  url: string;
  port: number;
  seen: SeenTlsRequest[];
  /** The server name of every TLS handshake begun, in order ('' for a handshake without one), failed ones included. */
  handshakes: string[];
  close(): Promise<void>;
}

/**
 * An HTTPS server on 127.0.0.1:0 with `cert`, answering `<name>` to every request and
 * echoing WebSocket messages as `<name>: <message>`.
 */
export async function startHttpsUpstream(name: string, cert: TestCert): Promise<HttpsUpstream> {
  const seen: SeenTlsRequest[] = [];
  const handshakes: string[] = [];
  const context = createSecureContext(cert);
  const server = https.createServer(
    {
      ...cert,
      // Called for every ClientHello that carries a server name.
      SNICallback: (servername, done) => {
        handshakes.push(servername);
        done(null, context);
      },
    },
    (req, res) => {
      seen.push({ url: req.url ?? '', host: req.headers.host, servername: (req.socket as TLSSocket).servername || false });
      res.end(name);
    },
  );
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  // A handshake without a server name never calls SNICallback: count it on its secure socket.
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.servername === false) handshakes.push('');
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws, req) => {
    seen.push({ url: req.url ?? '', host: req.headers.host, servername: (req.socket as TLSSocket).servername || false });
    ws.on('message', (data) => ws.send(`${name}: ${(data as Buffer).toString()}`));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    seen,
    handshakes,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
