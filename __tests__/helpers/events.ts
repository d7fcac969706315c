// Waiting for the balancer's events, so tests await the moment something happened instead of sleeping.
import type { LoadBalanceMiddleware, ProxyEndEvent, TargetHealthEvent } from 'express-load-balance';

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

/** Collects `proxyEnd` events, so a test can await the moment attempts are settled. */
export function endings(lb: LoadBalanceMiddleware): { events: ProxyEndEvent[]; count(n: number): Promise<void> } {
  const events: ProxyEndEvent[] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  lb.on('proxyEnd', (event) => {
    events.push(event);
    waiters = waiters.filter((w) => (events.length >= w.n ? (w.resolve(), false) : true));
  });
  return {
    events,
    count: (n) => (events.length >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve }))),
  };
}
