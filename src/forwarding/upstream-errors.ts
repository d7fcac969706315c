import { BadGatewayError, GatewayTimeoutError, type LoadBalanceError } from '../errors';
import type { FailurePhase } from '../resilience/retry-rules';
import type { Deadlines } from './transport';

/** What failed: an HTTP request, or a WebSocket handshake. */
export type Exchanged = 'request' | 'upgrade';

/**
 * The error a client gets for a failed attempt: 504 when a deadline passed (no
 * connection within `connectTimeout`, no answer within `timeout`), else 502. HTTP
 * requests and WebSocket handshakes share the rule; only the wording differs.
 */
export function upstreamError(
  url: string,
  phase: FailurePhase,
  deadlines: Deadlines,
  cause: unknown,
  exchanged: Exchanged = 'request',
): LoadBalanceError {
  if (phase === 'timeout') {
    const what = exchanged === 'upgrade' ? 'did not accept the WebSocket' : 'sent no response headers';
    return new GatewayTimeoutError(`${url} ${what} within ${deadlines.timeout} ms`, url, { cause });
  }
  if (phase === 'connect-timeout') {
    return new GatewayTimeoutError(`${url} did not accept a connection within ${deadlines.connectTimeout} ms`, url, { cause });
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  const what = exchanged === 'upgrade' ? 'failed the WebSocket upgrade' : 'failed';
  return new BadGatewayError(`${url} ${what}: ${message}`, url, { cause });
}
