import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { Clock, Timer } from '../clock';
import { GatewayTimeoutError, PayloadTooLargeError } from '../errors';
import type { TargetSpec } from '../options/targets';
import type { BodySink, RequestBody } from './body';

/** What one copy sends, and where. */
export interface CopyPlan {
  readonly target: TargetSpec;
  readonly method: string;
  /** Path and query, base path included, already made safe by upstream-path.ts. */
  readonly path: string;
  readonly headers: http.OutgoingHttpHeaders;
  readonly body: RequestBody;
  readonly agent: http.Agent;
  /** Bytes of body past which the copy is aborted. */
  readonly maxBodySize: number;
  /** ms the whole copy may take, from sending to the end of the answer. */
  readonly timeout: number;
  readonly clock: Clock;
}

/** How a copy ended: the mirror's status when it answered in full, else why not. */
export interface CopyOutcome {
  readonly status?: number;
  readonly error?: Error;
  readonly durationMs: number;
}

/**
 * One request copied to a mirror target: fire and forget. It reads the answer to its
 * end and throws it away, and it ends exactly once (`done`), however it ends: answered,
 * failed, past its deadline, body too large, or aborted by the balancer's close.
 * Nothing here can reach the client's request or answer.
 */
export class MirrorCopy implements BodySink {
  private readonly request: http.ClientRequest;
  private readonly timer: Timer;
  private readonly startedAt: number;
  private response: http.IncomingMessage | undefined;
  private written = 0;
  private settled = false;

  constructor(
    private readonly plan: CopyPlan,
    private readonly done: (copy: MirrorCopy, outcome: CopyOutcome) => void,
  ) {
    const { target, clock, timeout } = plan;
    this.startedAt = clock.now();
    this.request = (target.protocol === 'https:' ? https : http).request({
      protocol: target.protocol,
      host: target.hostname,
      port: target.port,
      method: plan.method,
      path: plan.path,
      headers: plan.headers,
      agent: plan.agent,
      // Node takes the TLS server name (SNI, and the name the certificate is checked
      // against) from the Host header when none is given: "-shadow" must not reach it.
      // An IP address is sent no server name (RFC 6066 §3).
      ...(target.protocol === 'https:' ? { servername: isIP(target.hostname) === 0 ? target.hostname : '' } : {}),
    });
    this.request.on('response', this.onResponse);
    this.request.on('error', this.abort);
    this.request.on('close', this.onClose);
    // One deadline for everything (connecting, the body, the answer): a mirror that hangs
    // at any stage frees its slot and its buffered bytes after `timeout`.
    this.timer = clock.setTimeout(
      () => this.abort(new GatewayTimeoutError(`mirror ${target.url} did not answer within ${timeout} ms`, target.url)),
      timeout,
    );
    const { body } = plan;
    if (body === undefined) this.request.end();
    else if (Buffer.isBuffer(body)) this.request.end(body);
    else body.tee(this);
  }

  /**
   * A chunk of the client's body. Written whatever the mirror's back-pressure: what it
   * has not taken yet stays buffered, which `maxBodySize` bounds, as the copy is aborted
   * once the body outgrows it.
   */
  write(chunk: Buffer): void {
    if (this.settled) return;
    this.written += chunk.length;
    if (this.written > this.plan.maxBodySize) {
      const max = this.plan.maxBodySize;
      this.abort(new PayloadTooLargeError(`request body exceeds mirror.maxBodySize (${max} bytes): the copy is aborted`, max));
      return;
    }
    this.request.write(chunk);
  }

  end(): void {
    if (!this.settled) this.request.end();
  }

  /** Ends the copy as failed and drops its connection. */
  readonly abort = (error: Error): void => {
    if (this.settle({ error })) this.request.destroy();
  };

  private readonly onResponse = (response: http.IncomingMessage): void => {
    this.response = response;
    response.on('error', this.abort);
    response.on('end', () => {
      if (!this.settle({ status: response.statusCode })) return;
      // The mirror answered before taking the whole body: the rest is of no use to anyone.
      if (!this.request.writableFinished) this.request.destroy();
    });
    response.resume();
  };

  /** Node's client can close a request with neither an answer nor an error; the copy still ends. */
  private readonly onClose = (): void => {
    const response = this.response;
    if (response?.complete === true) this.settle({ status: response.statusCode });
    else this.settle({ error: new Error(`mirror ${this.plan.target.url} closed the connection without a complete answer`) });
  };

  private settle(result: { status?: number; error?: Error }): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.timer.cancel();
    this.done(this, { ...result, durationMs: this.plan.clock.now() - this.startedAt });
    return true;
  }
}
