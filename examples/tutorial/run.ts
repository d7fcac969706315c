// `npm run example`: the three application servers and the balancer, in one command.
import { startBalancer } from './balancer';
import { startAppServers } from './servers';

async function main(): Promise<void> {
  const apps = await startAppServers();
  const { server, lb, port } = await startBalancer();
  console.log(`\nOpen http://localhost:${port}/ and reload: the answers go 1, 2, 3, 1, 2, 3.`);
  console.log('Press Ctrl-C to stop.\n');

  // A graceful shutdown, the way a Kubernetes pod stops on SIGTERM (SIGKILL follows after
  // terminationGracePeriodSeconds, 30 s by default, so drain for less than that).
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nShutting down…');
    // No new connections; the callback comes once the open ones have closed.
    const closed = new Promise((resolve) => server.close(resolve));
    // Requests in flight finish, for at most 10 s; new ones, on connections still open,
    // get a 503 with Connection: close, so their clients go to another instance.
    await lb.close({ drain: 10_000 });
    server.closeAllConnections();
    await closed;
    // Last, the application servers this example runs in the same process.
    for (const app of apps) app.server.closeAllConnections();
    await Promise.all(apps.map((app) => new Promise((resolve) => app.server.close(resolve))));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
