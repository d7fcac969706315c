import http from 'node:http';
import https from 'node:https';
import type { InternalAxiosRequestConfig } from 'axios';
import { AxiosError } from 'axios';
import type { TargetState } from '../balancing/target';
import type { AttemptTracing } from '../observability/tracing';
import type { FailurePhase } from '../resilience/retry-rules';
import type { RequestBody } from './body';

/** How long an attempt may wait, in ms: the `timeout` and `connectTimeout` options. */
export interface Deadlines {
  /** Without progress before the response headers arrive. */
  readonly timeout: number;
  /** To establish a new TCP connection. */
  readonly connectTimeout: number;
}

/**
 * Everything the transport needs for one request on the wire, handed through axios's
 * config under {@link CALL_KEY}. The host and port come from the target, never from a
 * URL string, so nothing in the request can redirect it.
 *
 * A class, not an object literal: axios deep-copies plain objects it finds in a
 * config, and the transport must write `request` back onto the caller's instance.
 */
export class UpstreamCall {
  /** Set by the transport once the request exists, so the caller can abort it. */
  request: http.ClientRequest | undefined = undefined;
  /**
   * Set by the transport when it fails the attempt. Kept here rather than only on the
   * error, which an axios response interceptor may replace on its way to the caller.
   */
  failure: FailurePhase | undefined = undefined;

  constructor(
    readonly target: TargetState,
    /** Path and query to send, already made safe by upstream-path.ts. */
    readonly path: string,
    readonly body: RequestBody,
    readonly deadlines: Deadlines,
    /** Use a new connection that is closed afterwards, not one from the pool. */
    readonly fresh: boolean,
    /** Requests sent so far for the client request, this one included: 1 for the first. */
    readonly attempt: number,
    /** Present when `@opentelemetry/api` is installed. */
    readonly tracing: AttemptTracing | undefined,
  ) {}
}

/** The key under which an {@link UpstreamCall} travels in the axios request config. */
export const CALL_KEY = 'expressLoadBalanceCall';

/** The error the transport rejects with: an AxiosError (so axios interceptors see their usual type) plus where it failed. */
export interface TransportError extends AxiosError {
  phase: FailurePhase;
}

/** Errors raised before a TCP connection exists: the request cannot have been seen. */
export const CONNECT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const RESET_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'EPIPE']);

type Timeouts = 'connect' | 'response' | undefined;

function phaseOf(err: NodeJS.ErrnoException, request: http.ClientRequest, timedOut: Timeouts): FailurePhase {
  if (timedOut === 'connect') return 'connect-timeout';
  if (timedOut === 'response') return 'timeout';
  if (err.code !== undefined && CONNECT_CODES.has(err.code)) return 'connect';
  // Node marks a request sent on a pooled socket with `reusedSocket`; a reset there
  // before any response is the classic keep-alive race (the upstream closed the idle
  // connection as we wrote to it), see the Node docs for `request.reusedSocket`.
  if (request.reusedSocket && err.code !== undefined && RESET_CODES.has(err.code)) return 'reused-socket';
  return 'sent';
}

/** Where an attempt's outcome goes: the response head, or a failure with its phase. */
export interface DispatchCallbacks {
  onResponse(upstream: http.IncomingMessage): void;
  onError(error: TransportError): void;
}

/**
 * Sends one request: one `http.request` on the given agent, to the call's target (host
 * and port never come from a string), the body piped in, the timers for connecting and
 * for the response head running. Calls exactly one of the callbacks, once.
 */
export function dispatch(
  call: UpstreamCall,
  method: string,
  headers: http.OutgoingHttpHeaders,
  agent: http.Agent | undefined,
  done: DispatchCallbacks,
  config?: InternalAxiosRequestConfig,
): void {
  const { target, tracing } = call;
  const secure = target.protocol === 'https:';
  const chosen = call.fresh ? false : agent;
  const request = (secure ? https : http).request({
    protocol: target.protocol,
    host: target.hostname,
    port: target.port,
    // Also part of the keep-alive pool's key (Node's https.Agent#getName), so a socket
    // opened for one name is never reused for another.
    servername: target.serverName,
    method,
    path: call.path,
    headers,
    agent: tracing === undefined ? chosen : tracing.agentFor(call, chosen, headers, secure),
  });
  call.request = request;

  let settled = false;
  let timedOut: Timeouts;
  const timer = setTimeout(() => {
    timedOut = 'response';
    request.destroy(new Error(`no response headers within ${call.deadlines.timeout} ms`));
  }, call.deadlines.timeout);
  let connectTimer: NodeJS.Timeout | undefined;
  request.once('socket', (socket) => {
    // A pooled socket is connected already; only a new one can hang in connect().
    if (!socket.connecting) return;
    connectTimer = setTimeout(() => {
      timedOut = 'connect';
      request.destroy(new Error(`no connection within ${call.deadlines.connectTimeout} ms`));
    }, call.deadlines.connectTimeout);
    socket.once('connect', () => clearTimeout(connectTimer));
  });

  const signal = config?.signal as AbortSignal | undefined;
  const onAbort = (): void => void request.destroy(new Error('request aborted'));
  if (signal !== undefined) {
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  }
  const settle = (): boolean => {
    if (settled) return false;
    settled = true;
    clearTimeout(timer);
    clearTimeout(connectTimer);
    signal?.removeEventListener?.('abort', onAbort);
    return true;
  };

  request.on('response', (upstream: http.IncomingMessage) => {
    if (settle()) done.onResponse(upstream);
  });
  // Node's client closes some requests with neither a response nor an error: a 101
  // with Upgrade answering a request that asked for none is dropped that way. The
  // attempt must still end, or the exchange would wait forever.
  request.on('close', () => {
    if (!settle()) return;
    const error = new AxiosError(
      'upstream closed the connection without a usable response',
      AxiosError.ERR_BAD_RESPONSE,
      config,
      request,
    ) as TransportError;
    error.phase = call.failure = 'sent';
    done.onError(error);
  });
  request.on('error', (err: NodeJS.ErrnoException) => {
    if (!settle()) return;
    const phase = phaseOf(err, request, timedOut);
    const code = timedOut !== undefined ? AxiosError.ETIMEDOUT : (err.code ?? AxiosError.ERR_NETWORK);
    const error = AxiosError.from(err, code, config, request) as TransportError;
    error.phase = call.failure = phase;
    done.onError(error);
  });

  const { body } = call;
  if (body === undefined) {
    request.end();
  } else if (Buffer.isBuffer(body)) {
    request.end(body);
  } else {
    // While the body flows, the wait for response headers has not begun.
    body.attach(request, () => timer.refresh());
  }
}
