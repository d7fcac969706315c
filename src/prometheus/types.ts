// The balancer as the Prometheus entry sees it: the events and figures its metrics read.
// Written out here rather than imported, so that this entry's type declarations share
// nothing with the main one's.

/**
 * The part of a `proxyEnd` event the metrics read.
 * @public
 */
export interface AttemptEnd {
  readonly target: { readonly url: string };
  readonly method: string;
  readonly status: number | undefined;
  readonly result: 'response' | 'error' | 'aborted' | 'hedge-lost';
  readonly durationMs: number;
}

/**
 * The part of a `dequeue` event the metrics read.
 * @public
 */
export interface QueueLeave {
  readonly waitedMs: number;
  readonly result: 'served' | 'timeout' | 'aborted' | 'closed';
}

/**
 * The part of `lb.stats().mirror` the metrics read.
 * @public
 */
export interface MirrorCounts {
  readonly inFlight: number;
  readonly sent: number;
  readonly skipped: number;
  readonly failed: number;
}

/**
 * What `prometheusMetrics()` needs of a balancer: every `loadBalance()` middleware
 * has it.
 * @public
 */
export interface MeteredBalancer {
  on(name: 'proxyEnd', listener: (event: AttemptEnd) => void): unknown;
  on(name: 'dequeue', listener: (event: QueueLeave) => void): unknown;
  on(name: 'hedge', listener: () => void): unknown;
  off(name: 'proxyEnd', listener: (event: AttemptEnd) => void): unknown;
  off(name: 'dequeue', listener: (event: QueueLeave) => void): unknown;
  off(name: 'hedge', listener: () => void): unknown;
  /**
   * Read at registration, where a balancer with a wait queue, a mirror or hedging gets
   * their metrics too, and at scrape time for the queue and the mirror.
   */
  stats?(): { readonly queue?: { readonly length: number }; readonly mirror?: MirrorCounts; readonly hedge?: object };
  targets(): ReadonlyArray<{
    readonly url: string;
    readonly inFlight: number;
    readonly healthy: boolean;
    readonly ejected: boolean;
    readonly resting?: boolean;
  }>;
}
