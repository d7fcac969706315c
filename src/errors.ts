/**
 * Errors the balancer passes to Express's `next(err)`.
 *
 * Each kind has its own class, an HTTP `status` (mirrored as `statusCode`, which
 * Express's default error handler and most apps read) and a stable `code`
 * string that is safe to branch on. A `Symbol.for` brand makes
 * {@link isLoadBalanceError} work even when two copies of the package are loaded.
 */

const BRAND = Symbol.for('express-load-balance.error');

/** The stable `code` strings carried by {@link LoadBalanceError}s. */
export type LoadBalanceErrorCode =
  | 'ELB_BAD_GATEWAY'
  | 'ELB_GATEWAY_TIMEOUT'
  | 'ELB_NO_TARGET'
  | 'ELB_SATURATED'
  | 'ELB_QUEUE_TIMEOUT'
  | 'ELB_BAD_REQUEST'
  | 'ELB_PAYLOAD_TOO_LARGE';

/**
 * Base class of every run-time error the balancer produces.
 * @public
 */
export class LoadBalanceError extends Error {
  /** HTTP status the error should be answered with. */
  readonly status: number;
  /** Same as `status`, for handlers that read `statusCode`. */
  readonly statusCode: number;
  /** Stable machine-readable code, e.g. `'ELB_BAD_GATEWAY'`. */
  readonly code: LoadBalanceErrorCode;
  /** URL of the target that failed, when one was chosen. */
  readonly target: string | undefined;
  /** Express's default handler sends `err.message` to the client only when `expose` is true. */
  readonly expose: boolean;

  constructor(message: string, status: number, code: LoadBalanceErrorCode, target?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.status = status;
    this.statusCode = status;
    this.code = code;
    this.target = target;
    this.expose = status < 500;
  }

  /** @internal */
  get [BRAND](): true {
    return true;
  }
}

/**
 * 502: the chosen upstream could not be reached, reset the connection, or sent
 * something that is not HTTP.
 * @public
 */
export class BadGatewayError extends LoadBalanceError {
  declare readonly code: 'ELB_BAD_GATEWAY';
  constructor(message: string, target?: string, options?: { cause?: unknown }) {
    super(message, 502, 'ELB_BAD_GATEWAY', target, options);
  }
}

/**
 * 504: the upstream did not send its response headers within `timeout` ms.
 * @public
 */
export class GatewayTimeoutError extends LoadBalanceError {
  declare readonly code: 'ELB_GATEWAY_TIMEOUT';
  constructor(message: string, target?: string, options?: { cause?: unknown }) {
    super(message, 504, 'ELB_GATEWAY_TIMEOUT', target, options);
  }
}

/**
 * 503: no target could take the request (none configured any more, or the
 * strategy returned none).
 * @public
 */
export class NoTargetError extends LoadBalanceError {
  declare readonly code: 'ELB_NO_TARGET';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 503, 'ELB_NO_TARGET', undefined, options);
  }
}

/**
 * 503: every usable target already holds `maxInFlightPerTarget` requests. Refused at
 * once, never queued; `headers` carries a `Retry-After` that Express's default error
 * handler (finalhandler) sends with the answer.
 * @public
 */
export class SaturatedError extends LoadBalanceError {
  declare readonly code: 'ELB_SATURATED';
  /** Response headers for the error answer: `Retry-After` in seconds. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(message: string, retryAfterSeconds: number) {
    super(message, 503, 'ELB_SATURATED');
    this.headers = { 'Retry-After': String(retryAfterSeconds) };
  }
}

/**
 * 503: the request waited in the `queue` option's queue for its whole `timeout` and no
 * target could take it. `headers` carries a `Retry-After`, as for {@link SaturatedError}.
 * @public
 */
export class QueueTimeoutError extends LoadBalanceError {
  declare readonly code: 'ELB_QUEUE_TIMEOUT';
  /** Response headers for the error answer: `Retry-After` in seconds. */
  readonly headers: Readonly<Record<string, string>>;
  constructor(message: string, retryAfterSeconds: number) {
    super(message, 503, 'ELB_QUEUE_TIMEOUT');
    this.headers = { 'Retry-After': String(retryAfterSeconds) };
  }
}

/**
 * 400: the request cannot be forwarded safely (a path that climbs out of the
 * target's base path, a `CONNECT` request).
 * @public
 */
export class BadRequestError extends LoadBalanceError {
  declare readonly code: 'ELB_BAD_REQUEST';
  constructor(message: string) {
    super(message, 400, 'ELB_BAD_REQUEST');
  }
}

/**
 * 413: the request body is larger than the `maxBodySize` option. A `Content-Length`
 * over the limit is refused before the body is read and before any upstream is
 * contacted; a streamed body that grows past it is cut, the upstream request aborted.
 * The answer closes the connection (`headers` carries `Connection: close`, and the
 * balancer sets it on the response), so the rest of the body is not read. The balancer
 * also stops reading the connection before `next(err)`, so Express's default error
 * handler answers at once instead of waiting for the whole body; yours shapes the
 * answer as usual.
 *
 * @example
 * ```ts
 * app.use('/api', loadBalance({ targets, maxBodySize: 10 * 1024 * 1024 }));
 * app.use((err, req, res, next) => {
 *   if (err instanceof PayloadTooLargeError) res.status(413).send('too large');
 *   else next(err);
 * });
 * ```
 * @public
 */
export class PayloadTooLargeError extends LoadBalanceError {
  declare readonly code: 'ELB_PAYLOAD_TOO_LARGE';
  /** Response headers for the error answer: `Connection: close`. */
  readonly headers: Readonly<Record<string, string>>;
  /** The `maxBodySize` that was exceeded, in bytes. */
  readonly limit: number;
  constructor(message: string, limit: number) {
    super(message, 413, 'ELB_PAYLOAD_TOO_LARGE');
    this.limit = limit;
    this.headers = { Connection: 'close' };
  }
}

/**
 * True for every error produced by this package, from any copy of it.
 * @public
 */
export function isLoadBalanceError(err: unknown): err is LoadBalanceError {
  return typeof err === 'object' && err !== null && (err as { [BRAND]?: unknown })[BRAND] === true;
}
