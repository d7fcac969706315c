// The balancer of `npm run bench:mirror`, in a process of its own so that its RSS is its
// own: `mirror-balancer.ts <options JSON>`. Reports its port, then its mirror stats and
// memory when asked; exits when asked or when the parent goes away.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadBalance, type LoadBalanceOptions } from '../src/index';

/** What the parent asks. */
export type MirrorBenchRequest = { type: 'report' } | { type: 'stop' };
/** What the child answers. */
export type MirrorBenchMessage =
  | { type: 'ready'; port: number }
  | { type: 'report'; rss: number; heapUsed: number; mirror: ReturnType<ReturnType<typeof loadBalance>['stats']>['mirror'] };

const send = process.send?.bind(process);
if (send === undefined) throw new Error('mirror-balancer.ts is started by bench/mirror.ts (no IPC channel)');
const options = JSON.parse(process.argv[2] ?? '{}') as LoadBalanceOptions;
const lb = loadBalance(options);
const app = express();
app.set('etag', false);
app.use(lb);
const server = http.createServer(app);
const stop = async (): Promise<void> => {
  await lb.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.on('message', (message: MirrorBenchRequest) => {
  if (message.type === 'stop') void stop();
  else {
    // Started with --expose-gc: what is measured is what the balancer keeps, not how
    // lazily V8 collects on a busy machine.
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    const report: MirrorBenchMessage = { type: 'report', rss, heapUsed, mirror: lb.stats().mirror };
    send(report);
  }
});
process.on('disconnect', () => void stop());
server.listen(0, '127.0.0.1', () => {
  const ready: MirrorBenchMessage = { type: 'ready', port: (server.address() as AddressInfo).port };
  send(ready);
});
