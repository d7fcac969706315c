// The tutorial's load-config.js, with express-load-balance instead of the hand-written handler.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadBalance, type LoadBalanceMiddleware } from 'express-load-balance';

export const BALANCER_PORT = 8080;

/** The running balancer. `port` is the real one, also when 0 asked for any free port. */
export interface RunningBalancer {
  server: Server;
  lb: LoadBalanceMiddleware;
  port: number;
}

export function startBalancer(
  targets: readonly string[] = ['http://127.0.0.1:3000', 'http://127.0.0.1:3001', 'http://127.0.0.1:3002'],
  wanted: number = BALANCER_PORT,
): Promise<RunningBalancer> {
  const app = express();
  const lb = loadBalance({ targets, strategy: 'round-robin' });
  app.use(lb);
  return new Promise((resolve, reject) => {
    // Loopback only, like the application servers: a demo has no business on the network.
    const server = app.listen(wanted, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      console.log(`Load Balancer Server on PORT ${port}`);
      resolve({ server, lb, port });
    });
    server.once('error', reject);
  });
}
