// `npm run example`: the three application servers and the balancer, in one command.
import { startBalancer } from './balancer';
import { startAppServers } from './servers';

async function main(): Promise<void> {
  const apps = await startAppServers();
  const { server, lb, port } = await startBalancer();
  console.log(`\nOpen http://localhost:${port}/ and reload: the answers go 1, 2, 3, 1, 2, 3.`);
  console.log('Press Ctrl-C to stop.\n');

  const servers = [server, ...apps.map((app) => app.server)];
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nShutting down…');
    await lb.close();
    for (const s of servers) s.closeAllConnections();
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
