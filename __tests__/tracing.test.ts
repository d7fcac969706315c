import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type http from 'node:http';
import type { Socket } from 'node:net';
import path from 'node:path';
import { context, propagation, trace, type Span } from '@opentelemetry/api';
import { InMemorySpanExporter, NodeTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import express from 'express';
import type { Request as SpansRequest, SpanRecord } from './fixtures/tracing/traced-balancer';
import { deadUrl, listen, request, startBalancer, startUpstream, type RunningServer } from './helpers/servers';

declare const EXPRESS_MAJOR: 4 | 5;

/** OpenTelemetry's SpanKind and SpanStatusCode values. */
const SERVER = 1;
const CLIENT = 2;
const UNSET = 0;
const ERROR = 2;

/** A traceparent as a client that traces itself would send it (W3C Trace Context §3.2). */
const CLIENT_TRACE = '0af7651916cd43dd8448eb211c80319c';
const CLIENT_SPAN = 'b7ad6b7169203331';
const CLIENT_TRACEPARENT = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;

/** The values of one header in raw headers, however it was spelt. */
function valuesOf(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.toLowerCase() === name) values.push(rawHeaders[i + 1]!);
  return values;
}

describe(`with OpenTelemetry's Node SDK and HTTP instrumentation, on Express ${EXPRESS_MAJOR}`, () => {
  let upstream: RunningServer;
  let racing: RunningServer;
  /** The raw headers of each request the upstream received. */
  const received: string[][] = [];
  /** The balancer's end of the connection each one came on. */
  const ports: Array<number | undefined> = [];
  let child: ChildProcess | undefined;
  let front = '';
  let okUrl = '';

  /** Asks the traced process for its finished spans, once `servers` server spans have ended. */
  async function ask(message: SpansRequest): Promise<{ spans?: SpanRecord[] }> {
    const answer = once(child!, 'message') as Promise<[{ spans?: SpanRecord[] }]>;
    child!.send(message);
    return (await answer)[0];
  }
  async function spans(servers: number): Promise<SpanRecord[]> {
    return (await ask({ spans: servers })).spans!;
  }
  /** One GET through the traced balancer, with the client's traceparent: its server span and client spans. */
  async function traced(urlPath: string): Promise<{ server: SpanRecord; clients: SpanRecord[] }> {
    const response = await request(front, { path: urlPath, headers: { traceparent: CLIENT_TRACEPARENT } });
    expect(response.text).toBe('traced');
    const all = await spans(1);
    return { server: all.find((span) => span.kind === SERVER)!, clients: all.filter((span) => span.kind === CLIENT) };
  }
  /** Each client span's parent, attempt number and status, in the order they ended. */
  const attempts = (clients: SpanRecord[]): unknown[][] =>
    clients.map((span) => [span.parentSpanId, span.attributes['express_load_balance.attempt'], span.status]);

  beforeAll(async () => {
    upstream = await listen((req: http.IncomingMessage, res: http.ServerResponse) => {
      received.push(req.rawHeaders);
      ports.push(req.socket.remotePort);
      res.end('traced');
    });
    okUrl = upstream.url;
    // Each connection serves one request; the next one on it is met with a reset, as
    // when the upstream's idle timer fires just as the balancer reuses the connection.
    const served = new WeakSet<Socket>();
    racing = await listen((req: http.IncomingMessage, res: http.ServerResponse) => {
      if (served.has(req.socket)) return void req.socket.destroy();
      served.add(req.socket);
      received.push(req.rawHeaders);
      res.end('traced');
    });
    const fixtures = path.join(__dirname, 'fixtures/tracing');
    // A real Node process started the way the OpenTelemetry docs start an app: the
    // setup file required before the app, so that `http` is patched before use.
    child = fork(path.join(fixtures, 'traced-balancer.ts'), [], {
      cwd: path.join(__dirname, '..'),
      execArgv: ['--require', 'tsx/cjs', '--require', path.join(fixtures, 'otel-setup.ts')],
      env: { ...process.env, ELB_TRACED: JSON.stringify({ express: EXPRESS_MAJOR, ok: okUrl, dead: await deadUrl(), racing: racing.url }) },
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    const [, port, major] = /listening (\d+) express (\d+)\./.exec(line.toString())!;
    expect(Number(major)).toBe(EXPRESS_MAJOR);
    front = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    if (child !== undefined && child.exitCode === null) {
      const exited = once(child, 'exit');
      // Closing the IPC channel ends it; a kill makes sure if it is stuck.
      if (child.connected) child.disconnect();
      else child.kill();
      await exited;
    }
    await upstream?.close();
    await racing?.close();
  });

  beforeEach(async () => {
    received.length = 0;
    ports.length = 0;
    await ask({ reset: true });
  });

  it.each([
    ['the direct transport', '/direct'],
    ['axios, with an interceptor on lb.axios', '/axios'],
  ])('makes the attempt a client span, child of the server span, and sends its traceparent upstream (%s)', async (_how, mount) => {
    const { server, clients } = await traced(`${mount}/orders`);
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    expect(clients).toHaveLength(1);
    const [client] = clients as [SpanRecord];
    expect(client).toMatchObject({ traceId: CLIENT_TRACE, parentSpanId: server.spanId });
    expect(client.attributes).toMatchObject({
      'url.full': `${okUrl}/orders`,
      'express_load_balance.target': okUrl,
      'express_load_balance.attempt': 1,
      'express_load_balance.strategy': 'round-robin',
    });
    // The client's traceparent is replaced by the attempt's, never sent beside it.
    expect(valuesOf(received[0]!, 'traceparent')).toEqual([`00-${CLIENT_TRACE}-${client.spanId}-01`]);
  });

  it('still pools upstream connections', async () => {
    await request(front, { path: '/direct/one' });
    await request(front, { path: '/direct/two' });
    await spans(2);
    expect(ports).toHaveLength(2);
    expect(ports[1]).toBe(ports[0]);
  });

  it('makes each attempt of a retried request a client span of its own, and sends the second one upstream', async () => {
    const { server, clients } = await traced('/retry/orders');
    expect(attempts(clients)).toEqual([
      [server.spanId, 1, ERROR],
      [server.spanId, 2, UNSET],
    ]);
    const [refused, answered] = clients as [SpanRecord, SpanRecord];
    expect(refused.attributes['express_load_balance.target']).not.toBe(okUrl);
    expect(answered.attributes).toMatchObject({ 'express_load_balance.target': okUrl, 'express_load_balance.strategy': 'custom' });
    expect(received).toHaveLength(1);
    expect(valuesOf(received[0]!, 'traceparent')).toEqual([`00-${CLIENT_TRACE}-${answered.spanId}-01`]);
  });

  it('makes a resend on a fresh connection a client span of its own, on a connection of its own', async () => {
    await request(front, { path: '/racing/warm' });
    await spans(1);
    await ask({ reset: true });
    received.length = 0;

    const { server, clients } = await traced('/racing/orders');
    expect(attempts(clients)).toEqual([
      [server.spanId, 1, ERROR],
      [server.spanId, 2, UNSET],
    ]);
    expect(received).toHaveLength(1);
    expect(valuesOf(received[0]!, 'traceparent')).toEqual([`00-${CLIENT_TRACE}-${clients[1]!.spanId}-01`]);
    // The fresh connection is not pooled, with tracing as without.
    expect(valuesOf(received[0]!, 'connection')).toEqual(['close']);
  });

  it('starts a trace for a client that sent none, and sends it upstream', async () => {
    await request(front, { path: '/direct/orders' });
    const all = await spans(1);
    const server = all.find((span) => span.kind === SERVER)!;
    const client = all.find((span) => span.kind === CLIENT)!;
    expect(server.parentSpanId).toBeUndefined();
    expect(client).toMatchObject({ traceId: server.traceId, parentSpanId: server.spanId });
    expect(valuesOf(received[0]!, 'traceparent')).toEqual([`00-${server.traceId}-${client.spanId}-01`]);
  });

  it("keeps the client's tracestate with the trace the balancer continues", async () => {
    await request(front, { path: '/direct/orders', headers: { traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=opaque' } });
    await spans(1);
    expect(valuesOf(received[0]!, 'tracestate')).toEqual(['vendor=opaque']);
  });

  it('drops a tracestate whose traceparent the balancer could not continue', async () => {
    // An unparsable traceparent: the server span starts a new trace, which the
    // client's tracestate does not belong to (W3C Trace Context §3.3: no traceparent, no tracestate).
    await request(front, { path: '/direct/orders', headers: { traceparent: 'not-a-traceparent', tracestate: 'vendor=opaque' } });
    const all = await spans(1);
    const client = all.find((span) => span.kind === CLIENT)!;
    expect(valuesOf(received[0]!, 'traceparent')).toEqual([`00-${client.traceId}-${client.spanId}-01`]);
    expect(valuesOf(received[0]!, 'tracestate')).toEqual([]);
  });
});

describe('with @opentelemetry/api installed but no SDK registered', () => {
  it("passes the client's trace context headers upstream unchanged, as any other header", async () => {
    const upstream = await startUpstream('a');
    const balanced = await startBalancer({ targets: [upstream.url] });
    try {
      await request(balanced.url, { headers: { traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=opaque' } });
      expect(upstream.seen[0]!.headers).toMatchObject({ traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=opaque' });
    } finally {
      await balanced.close();
      await upstream.close();
    }
  });
});

describe('with a span active but no HTTP instrumentation', () => {
  const exporter = new InMemorySpanExporter();

  beforeAll(() => {
    new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
  });
  afterAll(() => {
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it('labels no span, and sends no trace context of the client upstream', async () => {
    const upstream = await startUpstream('a');
    // The app's own span around the balancer, as manual tracing would make it.
    const spans: Span[] = [];
    const app = express();
    app.use((_req, _res, next) => {
      trace.getTracer('test').startActiveSpan('app', (span) => {
        spans.push(span);
        next();
      });
    });
    const balanced = await startBalancer({ targets: [upstream.url] }, { app });
    try {
      await request(balanced.url, { headers: { traceparent: CLIENT_TRACEPARENT, tracestate: 'vendor=opaque' } });
      expect(upstream.seen[0]!.headers.traceparent).toBeUndefined();
      expect(upstream.seen[0]!.headers.tracestate).toBeUndefined();
      for (const span of spans) span.end();
      expect(exporter.getFinishedSpans().map((span) => [span.name, span.attributes])).toEqual([['app', {}]]);
    } finally {
      await balanced.close();
      await upstream.close();
    }
  });
});
