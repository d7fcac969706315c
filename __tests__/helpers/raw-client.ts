import net from 'node:net';

/** A response read off a raw socket: enough of HTTP/1.1 to check status and headers. */
export interface RawResponse {
  status: number;
  /** Header lines as sent, `[name, value]`, names in their original case. */
  headers: Array<[string, string]>;
  /** Everything after the blank line, undecoded (chunked framing included). */
  body: string;
}

/**
 * Sends `head` (request line and headers, without the final blank line) over a new TCP
 * connection to 127.0.0.1:`port`, with `Connection: close` added, and reads the answer
 * until the server closes. Use it for request-targets that node:http's client would
 * normalise or refuse (`//x`, `/\x`, absolute-form, dot-segments).
 */
export function rawRequest(port: number, head: string, body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(`${head}\r\nConnection: close\r\n\r\n${body}`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const lines = (end === -1 ? text : text.slice(0, end)).split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1] ?? 0);
      const headers = lines.slice(1).map((line): [string, string] => {
        const colon = line.indexOf(':');
        return [line.slice(0, colon), line.slice(colon + 1).trim()];
      });
      resolve({ status, headers, body: end === -1 ? '' : text.slice(end + 4) });
    });
  });
}

/** `GET <target> HTTP/1.1` with a Host header, for {@link rawRequest}. */
export function rawGet(port: number, target: string, host = `127.0.0.1:${port}`): Promise<RawResponse> {
  return rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: ${host}`);
}
