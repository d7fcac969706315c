import http from 'node:http';
import https from 'node:https';
import type { Request } from 'express';
import type { Clock, Random } from '../clock';
import type { Events } from '../observability/events';
import type { MirrorConfig } from '../options/config';
import type { RequestBody } from './body';
import type { UpstreamHeaders } from './headers';
import { MirrorCopy, type CopyOutcome } from './mirror-copy';
import { CONNECT_CODES } from './transport';
import { joinBasePath } from './upstream-path';

/** A mirror target that refused a connection gets no copy for this long, doubled at each refusal in a row… */
export const MIRROR_PAUSE_MS = 1_000;
/** …up to this. */
export const MIRROR_MAX_PAUSE_MS = 30_000;

/**
 * What `lb.stats().mirror` says about the copies sent to mirror targets.
 * @public
 */
export interface MirrorStats {
  /** The mirror targets, in round-robin order. */
  readonly targets: readonly string[];
  /** Copies open now. */
  readonly inFlight: number;
  /** Copies sent since start. */
  readonly sent: number;
  /**
   * Requests sampled for a copy but not copied: `maxInFlight` copies were open, the
   * declared body was over `maxBodySize`, or every mirror target was paused after
   * refusing connections.
   */
  readonly skipped: number;
  /** Of the copies sent, those that got no complete answer: unreachable, reset, past `timeout`, body over `maxBodySize`, or cut by `close()`. */
  readonly failed: number;
}

/** What a mirror needs of the balancer besides its config. */
export interface MirrorParts {
  readonly events: Events;
  readonly clock: Clock;
  readonly random: Random;
  /** The balancer's `timeout`: each copy's deadline. */
  readonly timeout: number;
  /** The balancer's `keepAliveTimeout`, for the mirror's own pooled connections. */
  readonly keepAliveTimeout: number;
}

/**
 * Traffic mirroring (the `mirror` option): copies a sampled share of requests to the
 * mirror targets, round robin, at most `maxInFlight` at once, on a connection pool of its
 * own, so a mirror that is down, slow or hanging holds at most `maxInFlight` sockets and
 * `maxInFlight × maxBodySize` bytes, each for at most `timeout` ms, and never touches a
 * client's request, answer or timing.
 *
 * A mirror target that refuses connections is paused: no copy goes to it for
 * {@link MIRROR_PAUSE_MS}, doubled at each refusal in a row up to
 * {@link MIRROR_MAX_PAUSE_MS}, and the first answer clears it. Connecting to a closed
 * port over and over costs the balancer CPU its clients would otherwise get: without the
 * pause, copying every request to a refusing mirror raised the clients' p50 by a third
 * to two thirds on a busy balancer (`npm run bench:mirror`).
 */
export class Mirror {
  private readonly agents: { readonly http: http.Agent; readonly https: https.Agent };
  private readonly open = new Set<MirrorCopy>();
  private next = 0;
  /** Per mirror target, by index: until when it gets no copy, and the pause its next refusal brings. */
  private readonly pauses: { until: number; nextMs: number }[];
  private sent = 0;
  private skipped = 0;
  private failed = 0;
  private closed = false;

  constructor(
    private readonly config: MirrorConfig,
    private readonly parts: MirrorParts,
  ) {
    // Never more sockets than copies may be open: no copy waits in the agent's queue.
    const options = { keepAlive: true, maxSockets: config.maxInFlight, timeout: parts.keepAliveTimeout, scheduling: 'lifo' as const };
    this.agents = { http: new http.Agent(options), https: new https.Agent(options) };
    this.pauses = config.targets.map(() => ({ until: Number.NEGATIVE_INFINITY, nextMs: MIRROR_PAUSE_MS }));
  }

  /**
   * Maybe copies the request the forwarder is about to send: same method, `relative`
   * path under the mirror target's base path, `headers` (read now, before the primary
   * exchange changes them) with Host set to the mirror's plus `-shadow`, and `body`,
   * teed when it is the client's stream. Call it before the primary request starts.
   */
  copy(req: Request, relative: string, body: RequestBody, headers: UpstreamHeaders): void {
    const { config, parts } = this;
    if (this.closed || (config.sample < 1 && !(parts.random() < config.sample))) return;
    const index = this.open.size >= config.maxInFlight || this.declaredTooLarge(req, body) ? undefined : this.pick();
    if (index === undefined) {
      this.skipped++;
      return;
    }
    const target = config.targets[index]!;
    const copied: http.OutgoingHttpHeaders = {};
    for (const name in headers) {
      const value = headers[name];
      if (value !== false && value !== undefined) copied[name] = value;
    }
    // Envoy appends "-shadow" to the Host (authority) of mirrored requests, so a mirror's
    // logs and routes can tell copies from real traffic.
    copied.host = `${target.hostHeader}-shadow`;
    this.sent++;
    let copy: MirrorCopy;
    try {
      copy = new MirrorCopy(
        {
          target,
          method: req.method,
          path: joinBasePath(target.basePath, relative),
          headers: copied,
          body,
          agent: target.protocol === 'https:' ? this.agents.https : this.agents.http,
          maxBodySize: config.maxBodySize,
          timeout: parts.timeout,
          clock: parts.clock,
        },
        (ended, outcome) => this.ended(ended, req, index, outcome),
      );
    } catch (error) {
      // Whatever goes wrong with a copy must not reach the client's request.
      this.failed++;
      this.emit(req, target.url, { error: error instanceof Error ? error : new Error(String(error)), durationMs: 0 });
      return;
    }
    // A copy ends from an event or a timer, never within its constructor.
    this.open.add(copy);
  }

  stats(): MirrorStats {
    return {
      targets: this.config.targets.map((target) => target.url),
      inFlight: this.open.size,
      sent: this.sent,
      skipped: this.skipped,
      failed: this.failed,
    };
  }

  /** No more copies; those open are aborted and the mirror's sockets freed. */
  close(): void {
    this.closed = true;
    for (const copy of [...this.open]) copy.abort(new Error('express-load-balance: the balancer is closed'));
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** The next mirror target in round-robin order that is not paused, if any. */
  private pick(): number | undefined {
    const count = this.config.targets.length;
    const now = this.parts.clock.now();
    for (let tried = 0; tried < count; tried++) {
      const index = this.next;
      this.next = (this.next + 1) % count;
      if (this.pauses[index]!.until <= now) return index;
    }
    return undefined;
  }

  /** A body known to be too large is not copied at all, rather than cut on the way. */
  private declaredTooLarge(req: Request, body: RequestBody): boolean {
    if (body === undefined) return false;
    const max = this.config.maxBodySize;
    return Buffer.isBuffer(body) ? body.length > max : Number(req.headers['content-length']) > max;
  }

  private ended(copy: MirrorCopy, req: Request, index: number, outcome: CopyOutcome): void {
    this.open.delete(copy);
    const pause = this.pauses[index]!;
    const { error } = outcome;
    if (error !== undefined) this.failed++;
    if (error === undefined) pause.nextMs = MIRROR_PAUSE_MS;
    else if (CONNECT_CODES.has((error as NodeJS.ErrnoException).code ?? '')) {
      pause.until = this.parts.clock.now() + pause.nextMs;
      pause.nextMs = Math.min(pause.nextMs * 2, MIRROR_MAX_PAUSE_MS);
    }
    this.emit(req, this.config.targets[index]!.url, outcome);
  }

  private emit(req: Request, url: string, outcome: CopyOutcome): void {
    const { events } = this.parts;
    if (events.has('mirror')) events.emit('mirror', { req, target: { url }, ...outcome });
  }
}
