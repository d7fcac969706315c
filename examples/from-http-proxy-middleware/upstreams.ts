// Two copies of a small shop API, the upstreams of both before.ts and after.ts. Like many
// apps, it knows only its own address: its redirects and cookies name it.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

export const UPSTREAM_PORTS = [3010, 3011] as const;

export interface Upstream {
  server: Server;
  url: string;
}

function shop(): express.Express {
  const app = express();
  const self = (req: express.Request): string => `http://${req.get('host')}`;
  app.get('/items/:id', (req, res) => {
    res.json({ id: req.params.id });
  });
  // A new item: 201 with the Location of what was created.
  app.post('/items', (req, res) => {
    res
      .status(201)
      .location(`${self(req)}/items/7`)
      .json({ id: '7' });
  });
  // Signing in: a session cookie for the upstream's own domain and path, and a redirect to itself.
  app.post('/login', (req, res) => {
    res.cookie('sid', 'abc123', { domain: 'shop.internal', path: '/', httpOnly: true });
    res.redirect(302, `${self(req)}/items/1`);
  });
  // A redirect to another site, which no rewrite may touch.
  app.get('/help', (_req, res) => {
    res.redirect(302, 'https://docs.example/shop');
  });
  return app;
}

export function startUpstreams(ports: readonly number[] = UPSTREAM_PORTS): Promise<Upstream[]> {
  return Promise.all(
    ports.map(
      (wanted) =>
        new Promise<Upstream>((resolve, reject) => {
          const server = shop().listen(wanted, '127.0.0.1', () => {
            const { port } = server.address() as AddressInfo;
            resolve({ server, url: `http://127.0.0.1:${port}` });
          });
          server.once('error', reject);
        }),
    ),
  );
}
