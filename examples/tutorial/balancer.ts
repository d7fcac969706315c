// The tutorial's load-config.js, with express-load-balance instead of the hand-written handler.
import type { Server } from 'node:http';
import express from 'express';
import { loadBalance, type LoadBalanceMiddleware } from 'express-load-balance';

export const BALANCER_PORT = 8080;

export function startBalancer(
  targets: readonly string[] = ['http://127.0.0.1:3000', 'http://127.0.0.1:3001', 'http://127.0.0.1:3002'],
  port: number = BALANCER_PORT,
): Promise<{ server: Server; lb: LoadBalanceMiddleware }> {
  const app = express();
  const lb = loadBalance({ targets, strategy: 'round-robin' });
  app.use(lb);
  return new Promise((resolve, reject) => {
    const server = app.listen(port, () => {
      console.log(`Load Balancer Server on PORT ${port}`);
      resolve({ server, lb });
    });
    server.once('error', reject);
  });
}
