// A balancer in a process of its own, so a test can read its memory from /proc.
// Usage: node --require tsx/cjs balancer-process.ts <target> [<target>...]
// Optional JSON in ELB_SERVER_OPTIONS is passed to http.createServer (headersTimeout,
// connectionsCheckingInterval, ...); ELB_GC_INTERVAL sets how often (ms) it collects.
// Prints "listening <port>" once ready; exits when its stdin closes.
import http from 'node:http';
import express from 'express';
import { loadBalance } from 'express-load-balance';

const lb = loadBalance(process.argv.slice(2));
const app = express();
app.use(lb);
const serverOptions = JSON.parse(process.env.ELB_SERVER_OPTIONS ?? '{}') as http.ServerOptions;
const server = http.createServer(serverOptions, app).listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stdout.write(`listening ${address.port}\n`);
});
// With --expose-gc, collect often: the test measures what the balancer keeps, not how
// lazily V8 frees socket buffers on a busy machine.
const collect = (globalThis as { gc?: () => void }).gc;
const collector = collect === undefined ? undefined : setInterval(collect, Number(process.env.ELB_GC_INTERVAL ?? 20));
collector?.unref();
process.stdin.resume();
process.stdin.on('end', () => {
  void lb.close();
  server.closeAllConnections();
  server.close(() => process.exit(0));
});
