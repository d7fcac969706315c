import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import type { Target } from '../balancing/target-views';
import type { DnsTargets } from '../options/dns-targets';

/**
 * Payload of the `proxyReq` event: a request is about to be sent upstream.
 * @public
 */
export interface ProxyReqEvent {
  /** The target the request goes to. */
  readonly target: Target;
  /** The client's request. */
  readonly req: Request;
  /** The HTTP method sent upstream (the client's). */
  readonly method: string;
  /** Path and query sent upstream, base path included. */
  readonly path: string;
  /** 1 for the first attempt, then 2, 3… for each retry (a resend on a fresh connection included). */
  readonly attempt: number;
}

/**
 * Payload of the `proxyRes` event: the upstream answered (its body may still be streaming).
 * @public
 */
export interface ProxyResEvent {
  /** The target that answered. */
  readonly target: Target;
  /** The client's request. */
  readonly req: Request;
  /** The upstream's status code, forwarded to the client. */
  readonly status: number;
  /** Milliseconds from sending the request to the response headers. */
  readonly durationMs: number;
}

/**
 * Payload of the `proxyEnd` event: an attempt ended, however it ended; each attempt
 * ends exactly once. A resend on a fresh connection after a dead pooled one belongs to
 * the attempt it repeats: it has a `proxyReq` of its own, but no `proxyEnd`.
 * @public
 */
export interface ProxyEndEvent {
  /** The target of the attempt. */
  readonly target: Target;
  /** The client request. */
  readonly req: Request;
  /** The request method. */
  readonly method: string;
  /** The upstream's status, when it answered. */
  readonly status: number | undefined;
  /**
   * `'response'`: the upstream answered and its answer was streamed to the end (or set
   * aside for a retry). `'error'`: it could not be reached, reset, timed out, or its
   * answer broke off. `'aborted'`: the client went away first. `'hedge-lost'`: a
   * hedged request's attempt that another attempt's answer beat, cut at once (see the
   * `hedge` option).
   */
  readonly result: 'response' | 'error' | 'aborted' | 'hedge-lost';
  /** Milliseconds from sending the request to the end of the response or the failure. */
  readonly durationMs: number;
}

/**
 * Payload of the `error` event: an attempt failed, a DNS lookup failed, or an event listener threw.
 * @public
 */
export interface ErrorEvent {
  /**
   * What failed: a {@link LoadBalanceError} for a failed request; the resolver's error
   * (`code` `'ETIMEOUT'`, `'ECONNREFUSED'`, `'ESERVFAIL'`…) for a failed DNS lookup; else
   * what a listener or strategy threw.
   */
  readonly error: Error;
  /** The target involved, when there is one. */
  readonly target?: Target;
  /** The client's request, when the failure belongs to one. */
  readonly req?: Request;
  /** The WebSocket upgrade request, when the failure was in `lb.upgrade` (there is no `req` then). */
  readonly upgradeReq?: IncomingMessage;
  /**
   * The {@link dnsTargets} source, when a lookup of it failed (no answer, or an error
   * answer other than "no such name"). The targets stay as they were.
   */
  readonly discovery?: DnsTargets;
}

/**
 * Payload of `targetDown` and `targetUp`: a target left or rejoined the rotation.
 * @public
 */
export interface TargetHealthEvent {
  /** The target that left or rejoined. */
  readonly target: Target;
  /**
   * `'health-check'`: active probes crossed a threshold. `'outlier'`: outlier
   * detection ejected it (`targetDown`) or its ejection ended (`targetUp`).
   * `'retry-after'`: it answered 503 or 429 with `Retry-After` and rests (`targetDown`),
   * or its rest is over (`targetUp`).
   */
  readonly reason: 'health-check' | 'outlier' | 'retry-after';
}

/**
 * Payload of the `retry` event: an attempt failed and the request is sent again.
 * @public
 */
export interface RetryEvent {
  /** The client's request. */
  readonly req: Request;
  /** The target whose attempt failed. */
  readonly target: Target;
  /** The target the request goes to now. */
  readonly next: Target;
  /** The attempt about to start: 2 for the first retry. */
  readonly attempt: number;
  /** Why the previous attempt failed. */
  readonly error: Error;
}

/**
 * Payload of the `hedge` event: a request's response head is late, and the same request
 * goes to another target too (the `hedge` option).
 * @public
 */
export interface HedgeEvent {
  /** The client's request. */
  readonly req: Request;
  /** The target of the first attempt, whose answer is late. */
  readonly target: Target;
  /** The target the hedge goes to. */
  readonly next: Target;
  /** How long the previous attempt had waited, in ms: the delay in force. */
  readonly delayMs: number;
}

/**
 * Payload of the `dequeue` event: a request left the wait queue (the `queue` option).
 * @public
 */
export interface DequeueEvent {
  /** The client's request. */
  readonly req: Request;
  /** Milliseconds it waited. */
  readonly waitedMs: number;
  /**
   * `'served'`: a target took it. `'timeout'`: `queue.timeout` passed (a 503
   * `ELB_QUEUE_TIMEOUT`). `'aborted'`: the client left. `'closed'`: the balancer closed.
   */
  readonly result: 'served' | 'timeout' | 'aborted' | 'closed';
}

/**
 * Payload of the `mirror` event: a copy of a request sent to a mirror target (the
 * `mirror` option) ended. It never touches the client's answer.
 * @public
 */
export interface MirrorEvent {
  /** The client's request that was copied. */
  readonly req: Request;
  /** The mirror target the copy went to. */
  readonly target: {
    /** Its normalised URL: origin plus base path, without a trailing slash. */
    readonly url: string;
  };
  /** The mirror's status, when it answered. Its body was read and thrown away. */
  readonly status?: number;
  /**
   * Why the copy failed, when it did: the mirror could not be reached, reset, did not
   * answer within `timeout`, or the body outgrew `mirror.maxBodySize`.
   */
  readonly error?: Error;
  /** Milliseconds from sending the copy to the end of the mirror's answer, or to the failure. */
  readonly durationMs: number;
}

/**
 * The events a balancer emits, by name.
 * @public
 */
export interface LoadBalanceEvents {
  /** A request is about to be sent upstream (once per attempt). */
  proxyReq: ProxyReqEvent;
  /** An upstream's response headers arrived and are about to be forwarded. */
  proxyRes: ProxyResEvent;
  /** An attempt ended, however it ended: once per attempt. */
  proxyEnd: ProxyEndEvent;
  /** A failed attempt is being retried on another target. */
  retry: RetryEvent;
  /** A late request is sent to another target too (the `hedge` option). */
  hedge: HedgeEvent;
  /** A target left the rotation (health checks or outlier detection). */
  targetDown: TargetHealthEvent;
  /** A target rejoined the rotation. */
  targetUp: TargetHealthEvent;
  /** An attempt failed, a DNS lookup failed, or a listener or custom strategy threw. */
  error: ErrorEvent;
  /** A request left the wait queue. */
  dequeue: DequeueEvent;
  /** A copy of a request sent to a mirror target ended (answered or failed). */
  mirror: MirrorEvent;
}

/**
 * A listener of one event.
 * @public
 */
export type Listener<K extends keyof LoadBalanceEvents> = (event: LoadBalanceEvents[K]) => void;

type ListenerTable = { [K in keyof LoadBalanceEvents]: Listener<K>[] };

/**
 * Typed events with two guarantees Node's EventEmitter lacks: a listener that throws
 * never breaks the request that emitted, and `error` with no listener is not fatal.
 */
export class Events {
  private readonly listeners: ListenerTable = {
    proxyReq: [],
    proxyRes: [],
    proxyEnd: [],
    retry: [],
    hedge: [],
    targetDown: [],
    targetUp: [],
    error: [],
    dequeue: [],
    mirror: [],
  };

  on<K extends keyof LoadBalanceEvents>(name: K, listener: Listener<K>): void {
    const list = this.listeners[name];
    if (list === undefined) throw new TypeError(`express-load-balance: unknown event "${String(name)}"`);
    if (typeof listener !== 'function') throw new TypeError('express-load-balance: an event listener must be a function');
    list.push(listener);
  }

  off<K extends keyof LoadBalanceEvents>(name: K, listener: Listener<K>): void {
    const list = this.listeners[name];
    const i = list === undefined ? -1 : list.indexOf(listener);
    if (i !== -1) list.splice(i, 1);
  }

  /** Lets the hot path skip building a payload nobody listens to. */
  has(name: keyof LoadBalanceEvents): boolean {
    return this.listeners[name].length > 0;
  }

  emit<K extends keyof LoadBalanceEvents>(name: K, event: LoadBalanceEvents[K]): void {
    const list = this.listeners[name];
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!(event);
      } catch (thrown) {
        this.listenerThrew(name, thrown);
      }
    }
  }

  private listenerThrew(name: keyof LoadBalanceEvents, thrown: unknown): void {
    const error = thrown instanceof Error ? thrown : new Error(String(thrown));
    if (name !== 'error' && this.has('error')) {
      this.emit('error', { error });
    } else {
      process.emitWarning(error, { code: 'ELB_LISTENER_THREW', detail: `a "${name}" listener threw` });
    }
  }
}
