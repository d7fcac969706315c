// AFTER: the same API behind express-load-balance, mounted at /api. Same answers; see
// README.md, "Coming from http-proxy-middleware", for what each option became.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadBalance, type LoadBalanceMiddleware } from 'express-load-balance';

export const AFTER_PORT = 8091;

export function startAfter(
  targets: readonly string[],
  wanted: number = AFTER_PORT,
): Promise<{ server: Server; port: number; lb: LoadBalanceMiddleware }> {
  const app = express();
  const lb = loadBalance({
    targets, // balanced (round robin), with retries, health and keep-alive
    timeout: 10_000, // was proxyTimeout; changeOrigin and xfwd are what it does anyway
    cookieDomainRewrite: '',
    cookiePathRewrite: { '/': '/api' },
    autoRewrite: true, // the client's host and scheme, and the mount path: no proxyRes hook
  });
  app.use('/api', lb); // failures reach Express's error handling as 502/503/504
  return new Promise((resolve, reject) => {
    const server = app.listen(wanted, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, lb }));
    server.once('error', reject);
  });
}
