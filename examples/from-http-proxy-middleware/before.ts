// BEFORE: the shop API behind http-proxy-middleware, mounted at /api.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';

export const BEFORE_PORT = 8090;

export function startBefore(targets: readonly string[], wanted: number = BEFORE_PORT): Promise<{ server: Server; port: number }> {
  let next = 0;
  const app = express();
  app.use(
    '/api',
    createProxyMiddleware({
      target: targets[0],
      // No balancing of its own: rotate over the targets by hand.
      router: () => targets[next++ % targets.length],
      changeOrigin: true,
      xfwd: true,
      proxyTimeout: 10_000,
      cookieDomainRewrite: '', // host-only cookies, for whatever host the client used
      cookiePathRewrite: { '/': '/api' },
      autoRewrite: true, // Location: the client's host instead of the target's...
      on: {
        // ...but not the mount path: put /api back in by hand, before autoRewrite runs.
        proxyRes: (proxyRes) => {
          const { location } = proxyRes.headers;
          if (location === undefined || !URL.canParse(location)) return;
          const url = new URL(location);
          if (targets.includes(url.origin)) proxyRes.headers.location = `${url.origin}/api${url.pathname}${url.search}${url.hash}`;
        },
        error: (_err, _req, res) => {
          if ('writeHead' in res && !res.headersSent) res.writeHead(502).end('Bad gateway');
        },
      },
    }),
  );
  return new Promise((resolve, reject) => {
    const server = app.listen(wanted, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port }));
    server.once('error', reject);
  });
}
