import type { ClientRequest } from 'node:http';
import type { Request } from 'express';
import { PayloadTooLargeError } from '../errors';

/**
 * What is sent upstream as the request body: the client's stream (wrapped so it can be
 * replayed while small), a buffer re-serialised from a body an Express parser already
 * read, or nothing.
 */
export type RequestBody = StreamedBody | Buffer | undefined;

const EMPTY = Buffer.alloc(0);

/** RFC 9112 §6.3: a request has a body only if it says so with Transfer-Encoding or Content-Length. */
function hasBody(req: Request): boolean {
  const { headers } = req;
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Chooses the body to forward. When `express.json()`, `urlencoded()`, `text()` or
 * `raw()` ran before the balancer, the stream has been read to its end, so the parsed
 * `req.body` is serialised again (http-proxy-middleware users have to do this by
 * hand; here it just works). Otherwise the client's stream is piped through untouched.
 */
export function requestBody(req: Request, retryBufferSize: number, maxBodySize = Infinity): RequestBody {
  if (!req.readableEnded) return hasBody(req) ? new StreamedBody(req, retryBufferSize, maxBodySize) : undefined;
  if (!hasBody(req)) return undefined;
  const parsed: unknown = req.body;
  if (parsed === undefined) return EMPTY;
  return serialize(parsed, req.headers['content-type']);
}

/**
 * A second reader of a streamed body (a mirror copy): it gets every chunk the client
 * sends, once, in order, as the primary request does, and never slows the client down.
 */
export interface BodySink {
  write(chunk: Buffer): void;
  end(): void;
  /** The body will not be complete: the client failed, or it outgrew `maxBodySize`. */
  abort(error: Error): void;
}

/** True when this body can be sent again (a retry). */
export function isReplayable(body: RequestBody): boolean {
  return body === undefined || Buffer.isBuffer(body) || body.replayable;
}

/**
 * The client's request stream, sent to one upstream request at a time. The first
 * `limit` bytes are kept (references to the chunks, no copy) so that a retry can send
 * them again and then go on with the rest of the stream; past the limit they are let
 * go and the body is no longer replayable, as with Envoy's per-request buffer limit.
 */
export class StreamedBody {
  private kept: Buffer[] = [];
  private keptBytes = 0;
  private overflowed = false;
  private ended = false;
  private current: ClientRequest | undefined;
  private onProgress: (() => void) | undefined;
  private listening = false;
  private received = 0;
  /** Where every chunk also goes (traffic mirroring), when set. */
  private sink: BodySink | undefined = undefined;
  /** Set once the client sent more than `maxSize` bytes; the body is then cut. */
  tooLarge: PayloadTooLargeError | undefined = undefined;

  constructor(
    private readonly source: Request,
    private readonly limit: number,
    private readonly maxSize = Infinity,
  ) {}

  /** Whether everything sent so far is still held, so it can all be sent again. */
  get replayable(): boolean {
    return !this.overflowed;
  }

  /**
   * Hands every chunk to `sink` too, as it arrives: a tee driven by the primary request's
   * back-pressure only, whatever the sink does with it. Set it before the first attach.
   */
  tee(sink: BodySink): void {
    this.sink = sink;
  }

  /** Sends the body into `request`: what is held, then the rest as it arrives. */
  attach(request: ClientRequest, onProgress: () => void): void {
    this.current = request;
    this.onProgress = onProgress;
    for (const chunk of this.kept) request.write(chunk);
    if (this.ended) {
      request.end();
      return;
    }
    if (!this.listening) {
      this.listening = true;
      this.source.on('data', this.onData);
      this.source.once('end', this.onEnd);
      this.source.once('error', this.onError);
    }
    this.source.resume();
  }

  /** Stops feeding the current request (it failed); the client is paused until the next attach. */
  detach(): void {
    this.current = undefined;
    this.onProgress = undefined;
    if (!this.ended) this.source.pause();
  }

  private readonly onData = (chunk: Buffer): void => {
    if (this.tooLarge !== undefined) return;
    this.received += chunk.length;
    if (this.received > this.maxSize) {
      this.cut();
      return;
    }
    if (this.sink !== undefined) this.sink.write(chunk);
    if (!this.overflowed) {
      if (this.keptBytes + chunk.length <= this.limit) {
        this.kept.push(chunk);
        this.keptBytes += chunk.length;
      } else {
        this.overflowed = true;
        this.kept = [];
      }
    }
    const request = this.current;
    if (request === undefined) return;
    this.onProgress?.();
    if (!request.write(chunk)) {
      // Backpressure: hold the client until the upstream has taken what it was given.
      this.source.pause();
      request.once('drain', this.onDrain);
    }
  };

  /**
   * The body grew past `maxBodySize`: the upstream request is destroyed before the
   * offending chunk is written, so the upstream never receives a complete oversized
   * body (a chunked request without its last chunk is incomplete to it), and the client
   * is no longer read: the exchange answers 413 and leaves the rest unread.
   *
   * With no request attached, the exchange failed already (between attempts the client
   * is paused, see {@link detach}): its error handler reads the rest of the body before
   * it answers, so the client must not be paused then, or that answer never comes. The
   * rest is let through and dropped.
   */
  private cut(): void {
    this.tooLarge = new PayloadTooLargeError(`request body exceeds maxBodySize (${this.maxSize} bytes)`, this.maxSize);
    this.kept = [];
    this.overflowed = true;
    const request = this.current;
    this.current = undefined;
    if (request !== undefined) {
      this.source.pause();
      this.source.off('data', this.onData);
      request.destroy(this.tooLarge);
    }
    this.sink?.abort(this.tooLarge);
  }

  private readonly onDrain = (): void => {
    if (this.current !== undefined) this.source.resume();
  };

  private readonly onEnd = (): void => {
    this.ended = true;
    this.current?.end();
    this.sink?.end();
  };

  private readonly onError = (err: Error): void => {
    this.current?.destroy(err);
    this.sink?.abort(err);
  };
}

function serialize(body: unknown, contentType: string | undefined): Buffer {
  if (Buffer.isBuffer(body)) return body;
  if (typeof body === 'string') return Buffer.from(body, charset(contentType));
  if (contentType !== undefined && /urlencoded/i.test(contentType) && typeof body === 'object' && body !== null) {
    return Buffer.from(formEncode(body as Record<string, unknown>));
  }
  return Buffer.from(JSON.stringify(body));
}

function charset(contentType: string | undefined): BufferEncoding {
  const match = contentType === undefined ? null : /;\s*charset=["']?([\w-]+)/i.exec(contentType);
  const name = match?.[1]?.toLowerCase();
  if (name === 'iso-8859-1' || name === 'latin1') return 'latin1';
  if (name === 'utf-16le') return 'utf16le';
  return 'utf8';
}

/**
 * Form-encodes what `express.urlencoded()` produced. Arrays of plain values repeat the
 * key (`a=1&a=2`), which both the simple and the `qs` ("extended") parser read back as
 * an array; nested objects use the `qs` bracket form (`a[b]=c`), which only the
 * extended parser can have produced.
 */
function formEncode(body: Record<string, unknown>): string {
  const pairs: string[] = [];
  for (const key of Object.keys(body)) appendPairs(pairs, key, body[key], false);
  return pairs.join('&');
}

function appendPairs(pairs: string[], key: string, value: unknown, nested: boolean): void {
  if (value === undefined) return;
  if (value === null) {
    pairs.push(`${encodeURIComponent(key)}=`);
  } else if (Array.isArray(value)) {
    const flat = !nested && value.every((v) => v === null || typeof v !== 'object');
    value.forEach((item, i) => appendPairs(pairs, flat ? key : `${key}[${i}]`, item, !flat));
  } else if (typeof value === 'object') {
    for (const inner of Object.keys(value)) {
      appendPairs(pairs, `${key}[${inner}]`, (value as Record<string, unknown>)[inner], true);
    }
  } else {
    // A primitive (express.urlencoded() gives strings), or a function put there by other code.
    const plain = value as string | number | bigint | boolean | symbol | ((...args: never[]) => unknown);
    pairs.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(plain))}`);
  }
}
