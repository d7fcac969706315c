// Waiting for the balancer's events, so tests await the moment something happened instead of sleeping.
import type { LoadBalanceEvents, LoadBalanceMiddleware, ProxyEndEvent, TargetHealthEvent } from 'express-load-balance';

/** The next `targetDown`/`targetUp` event about the target with this URL. */
export function nextEvent(lb: LoadBalanceMiddleware, name: 'targetDown' | 'targetUp', url: string): Promise<TargetHealthEvent> {
  return new Promise((resolve) => {
    const listener = (event: TargetHealthEvent): void => {
      if (event.target.url !== url) return;
      lb.off(name, listener);
      resolve(event);
    };
    lb.on(name, listener);
  });
}

/** Collects one event's payloads, so a test can await the moment `n` of them have come. */
export function collect<K extends keyof LoadBalanceEvents>(
  lb: LoadBalanceMiddleware,
  name: K,
): { events: Array<LoadBalanceEvents[K]>; count(n: number): Promise<void> } {
  const events: Array<LoadBalanceEvents[K]> = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  lb.on(name, (event) => {
    events.push(event);
    waiters = waiters.filter((w) => (events.length >= w.n ? (w.resolve(), false) : true));
  });
  return {
    events,
    count: (n) => (events.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}

/** Collects `proxyEnd` events, so a test can await the moment attempts are settled. */
export function endings(lb: LoadBalanceMiddleware): { events: ProxyEndEvent[]; count(n: number): Promise<void> } {
  return collect(lb, 'proxyEnd');
}
