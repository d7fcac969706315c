// The balancer on every core: node:cluster forks one worker per CPU, and the workers share
// port 8080 (the primary hands out connections). Each worker has its own balancer, so
// in-flight counts, health, latency estimates and the retry budget are per worker; the
// choice of target for a key is not, because consistent hashing depends only on the key
// and the target URLs. Try it:
//   curl -H 'x-user: alice' http://localhost:8080/   (always the same server, whichever worker answers)
//   curl -i http://localhost:8080/                   (X-Worker says which worker did)
import cluster from 'node:cluster';
import { availableParallelism } from 'node:os';
import express from 'express';
import { loadBalance } from 'express-load-balance';
import { APP_PORTS, startAppServers } from '../tutorial/servers';

const PORT = 8080;

async function primary(): Promise<void> {
  // The tutorial's three application servers, then one balancer worker per core.
  const apps = await startAppServers();
  const workers = availableParallelism();
  for (let i = 0; i < workers; i++) cluster.fork();
  let listening = 0;
  cluster.on('listening', () => {
    if (++listening === workers) console.log(`Open http://localhost:${PORT}/ (${workers} balancer workers). Press Ctrl-C to stop.`);
  });

  let stopping = false;
  cluster.on('exit', (worker, code) => {
    if (!stopping) {
      console.log(`Worker ${worker.process.pid} exited (${code}); starting another.`);
      cluster.fork();
    } else if (Object.keys(cluster.workers ?? {}).length === 0) {
      for (const { server } of apps) server.closeAllConnections();
      void Promise.all(apps.map(({ server }) => new Promise((resolve) => server.close(resolve)))).then(() => process.exit(0));
    }
  });
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    console.log('Shutting down…');
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

function worker(): void {
  const lb = loadBalance({
    targets: APP_PORTS.map((port) => `http://127.0.0.1:${port}`),
    strategy: 'consistent-hash',
    hashKey: (req) => req.get('x-user'),
    // With sticky cookies instead, give every worker (and machine) the same secret:
    // sticky: { secret: process.env.STICKY_SECRET },
  });
  const app = express();
  app.use((_req, res, next) => {
    res.set('x-worker', String(process.pid));
    next();
  });
  app.use(lb);
  const server = app.listen(PORT, '127.0.0.1');

  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    server.closeAllConnections();
    server.close();
    await lb.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

if (cluster.isPrimary) {
  primary().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
} else {
  worker();
}
