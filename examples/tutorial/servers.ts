// The tutorial's index.js: three application servers on ports 3000, 3001 and 3002.
import type { Server } from 'node:http';
import express from 'express';

export const APP_PORTS = [3000, 3001, 3002] as const;

// Express 5 no longer accepts the tutorial's '*' path: '/{*path}' matches every path, including '/'.
function appServer(num: number) {
  const app = express();
  const handler = (_req: express.Request, res: express.Response) => {
    res.send('Response from server Test: ' + num);
  };
  app.get('/{*path}', handler).post('/{*path}', handler);
  return app;
}

export function startAppServers(ports: readonly number[] = APP_PORTS): Promise<Server[]> {
  return Promise.all(
    ports.map(
      (port, i) =>
        new Promise<Server>((resolve, reject) => {
          const server = appServer(i + 1).listen(port, '127.0.0.1', () => {
            console.log(`Application Server PORT ${port}`);
            resolve(server);
          });
          server.once('error', reject);
        }),
    ),
  );
}
