import type { Request } from 'express';
import type { RecentLatency } from '../observability/recent-latency';
import type { HedgeConfig } from '../options/config';
import type { RequestBody } from './body';

/**
 * The `hedge` option of one balancer: when a request may be hedged, after how long, and
 * how many hedges were sent and won. Hedging follows "The Tail at Scale" (Dean and
 * Barroso, 2013): a request still unanswered at about the 95th percentile of latency goes
 * to a second server too, which cuts the tail for a few percent more load.
 */
export class Hedging {
  /** Hedges sent since start. */
  sent = 0;
  /** Of those, the ones whose answer was forwarded (it came before the first attempt's). */
  won = 0;

  constructor(
    private readonly config: HedgeConfig,
    /** The percentile `delay` is read from; undefined for a delay in ms. */
    private readonly recent: RecentLatency | undefined,
  ) {}

  /** Extra attempts a request may get. */
  get max(): number {
    return this.config.max;
  }

  /**
   * The delay for a request that starts now, in ms, or undefined when it is not hedged:
   * only GET, HEAD and OPTIONS without a body are safe to send twice (RFC 9110 §9.2.1-2),
   * and a percentile delay has no value until enough attempts ended.
   */
  delayFor(req: Request, body: RequestBody): number | undefined {
    const { method } = req;
    if (body !== undefined || (method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS')) return undefined;
    return this.delay();
  }

  /** The delay in force, in ms; undefined while a percentile delay has too few attempts to read. */
  delay(): number | undefined {
    const { delay } = this.config;
    return typeof delay === 'number' ? delay : this.recent!.read();
  }
}
