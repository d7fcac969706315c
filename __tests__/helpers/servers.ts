import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { loadBalance, type LoadBalanceMiddleware, type LoadBalanceOptions, type StrategyFunction } from 'express-load-balance';
import type { Runtime } from '../../src/clock';
import { loadBalanceOn } from '../../src/load-balance';

/** What an upstream saw of one request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface RunningServer {
  server: http.Server;
  url: string;
  port: number;
  /** Every socket the server accepted, so tests can count connections. */
  sockets: Socket[];
  close: () => Promise<void>;
}

/** Starts a Node server on 127.0.0.1:0 and tracks its sockets so close() never hangs. */
export async function listen(handler: http.RequestListener): Promise<RunningServer> {
  const server = http.createServer(handler);
  const sockets: Socket[] = [];
  server.on('connection', (socket) => sockets.push(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port on 127.0.0.1 that refuses connections: one that was just listened on and closed. */
export async function closedPort(): Promise<number> {
  const server = await listen(() => undefined);
  await server.close();
  return server.port;
}

/** A URL with nothing listening behind it: connections are refused. */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await closedPort()}`;
}

/**
 * A strategy that always picks the first target that may take the request, so a test
 * decides which target gets the first attempt (and, while it may take requests, every one).
 */
export const first: StrategyFunction = (targets) => targets[0];

export interface SwitchableUpstream extends RunningServer {
  readonly name: string;
  /** The status every request is answered with, as `<status> from <name>`; the test sets it. */
  status: number;
}

/** An upstream whose answers the test switches between success and failure by setting `status`. */
export async function startSwitchable(name: string): Promise<SwitchableUpstream> {
  const upstream: SwitchableUpstream = Object.assign(
    await listen((_req, res) => {
      res.statusCode = upstream.status;
      res.end(`${upstream.status} from ${name}`);
    }),
    { name, status: 200 },
  );
  return upstream;
}

export interface Upstream extends RunningServer {
  name: string;
  /** Requests this upstream received, in order. */
  seen: SeenRequest[];
}

/** What an upstream from {@link startUpstream} answers, before its name. */
export const ANSWER_PREFIX = 'Response from server Test: ';

/**
 * An upstream like the tutorial's: it records each request and answers
 * `Response from server Test: <name>`, unless a route given in `routes` takes it.
 */
export async function startUpstream(name: string, routes?: (app: Express) => void): Promise<Upstream> {
  const app = express();
  const seen: SeenRequest[] = [];
  app.use((req, _res, next) => {
    const chunks: Buffer[] = [];
    const entry: SeenRequest = { method: req.method, url: req.url, headers: req.headers, body: Buffer.alloc(0) };
    seen.push(entry);
    if (req.headers['x-test-stream'] === '1') return next();
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      entry.body = Buffer.concat(chunks);
      next();
    });
  });
  routes?.(app);
  app.use((req, res) => {
    res.type('text/plain').send(`${ANSWER_PREFIX}${name}`);
  });
  const running = await listen(app);
  return Object.assign(running, { name, seen });
}

export interface Balanced {
  lb: LoadBalanceMiddleware;
  front: RunningServer;
  url: string;
  /** Every error that reached the app through next(err), in order. */
  errors: unknown[];
  close: () => Promise<void>;
}

/**
 * Mounts a balancer on a fresh Express app at `mount`, with `before` middlewares
 * (body parsers, say) in front of it; behind it, errors are recorded and then
 * answered by Express's default error handler.
 */
export async function startBalancer(
  options: LoadBalanceOptions,
  {
    mount = '/',
    before = [] as RequestHandler[],
    app = express(),
    runtime,
  }: { mount?: string; before?: RequestHandler[]; app?: Express; runtime?: Runtime } = {},
): Promise<Balanced> {
  const lb = runtime === undefined ? loadBalance(options) : loadBalanceOn(runtime, options);
  for (const middleware of before) app.use(middleware);
  app.use(mount, lb);
  const errors: unknown[] = [];
  const record: ErrorRequestHandler = (err, _req, _res, next) => {
    errors.push(err);
    next(err);
  };
  app.use(record);
  const front = await listen(app);
  return {
    lb,
    front,
    url: front.url,
    errors,
    close: async () => {
      await lb.close();
      await front.close();
    },
  };
}

export interface SimpleResponse {
  status: number;
  statusMessage: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  text: string;
}

/** One HTTP request with node:http (no fetch: it rewrites headers and paths). */
export function request(
  url: string,
  {
    method = 'GET',
    path = '/',
    headers = {},
    body,
    signal,
  }: { method?: string; path?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer; signal?: AbortSignal } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url);
    // Node frames a GET's or DELETE's body only if told its length.
    const framed = body === undefined || Object.keys(headers).some((h) => /^(content-length|transfer-encoding)$/i.test(h));
    const sent = framed ? headers : { ...headers, 'content-length': Buffer.byteLength(body) };
    const req = http.request({ host: hostname, port, method, path, headers: sent, agent: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const buffer = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          statusMessage: res.statusMessage ?? '',
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: buffer,
          text: buffer.toString('utf8'),
        });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The name of the {@link startUpstream} upstream that sent this response. */
export function answeredBy(response: SimpleResponse): string {
  const { text, status } = response;
  return text.startsWith(ANSWER_PREFIX) ? text.slice(ANSWER_PREFIX.length) : `(not an upstream's answer: ${status} ${text})`;
}

/** Which upstreams answered `count` GETs to `url`, one after another: their names, space-separated ("a b a"). */
export async function answers(url: string, count: number): Promise<string> {
  const names: string[] = [];
  for (let i = 0; i < count; i++) names.push(answeredBy(await request(url)));
  return names.join(' ');
}

/** Closes everything given, ignoring what is already closed. */
export async function closeAll(...closables: Array<{ close(): Promise<void> } | undefined>): Promise<void> {
  await Promise.all(closables.filter((c) => c !== undefined).map((c) => c.close().catch(() => undefined)));
}
