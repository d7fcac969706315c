// The tutorial's index.js: three application servers on ports 3000, 3001 and 3002.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';

export const APP_PORTS = [3000, 3001, 3002] as const;

/** A running application server. `port` is the real one, also when 0 asked for any free port. */
export interface AppServer {
  server: Server;
  port: number;
  url: string;
}

// Express 5 no longer accepts the tutorial's '*' path: '/{*path}' matches every path, including '/'.
function appServer(num: number) {
  const app = express();
  const handler = (_req: express.Request, res: express.Response) => {
    res.send('Response from server Test: ' + num);
  };
  app.get('/{*path}', handler).post('/{*path}', handler);
  return app;
}

export function startAppServers(ports: readonly number[] = APP_PORTS): Promise<AppServer[]> {
  return Promise.all(
    ports.map(
      (wanted, i) =>
        new Promise<AppServer>((resolve, reject) => {
          const server = appServer(i + 1).listen(wanted, '127.0.0.1', () => {
            const { port } = server.address() as AddressInfo;
            console.log(`Application Server PORT ${port}`);
            resolve({ server, port, url: `http://127.0.0.1:${port}` });
          });
          server.once('error', reject);
        }),
    ),
  );
}
