// A balancer with health checks on, in a process of its own, to show its timers do not
// keep a process alive. Usage: node --require tsx/cjs health-check-process.ts <target>
// Prints "listening <port>" once ready. When its stdin closes it closes its server, and
// only its server: it neither closes the balancer nor calls process.exit, so the
// process ends by itself only if nothing the balancer left running holds it.
import express from 'express';
import { loadBalance } from 'express-load-balance';

const lb = loadBalance({
  targets: process.argv.slice(2),
  healthCheck: { interval: 20, timeout: 1_000 },
  outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 60_000 },
});
const app = express();
app.use(lb);
const server = app.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address !== null && typeof address === 'object') process.stdout.write(`listening ${address.port}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => {
  server.closeAllConnections();
  server.close();
});
