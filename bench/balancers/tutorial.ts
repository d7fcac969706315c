// The tutorial's load-config.js, rebuilt as published: axios per request with the
// response buffered, `${server}${url}`, 500 on any error, and no body parser. It
// forwards the client's headers, Content-Length included, with `data: undefined`,
// so every request with a body hangs until the client gives up: the bench records it.
import axios from 'axios';
import express, { type Request, type Response } from 'express';
import type { BuildBalancer } from './types';

export const build: BuildBalancer = (servers) => {
  const app = express();
  let current = 0;
  const handler = async (req: Request, res: Response): Promise<void> => {
    const { method, url, headers } = req;
    const body: unknown = req.body;
    const server = servers[current];
    current = current === servers.length - 1 ? 0 : current + 1;
    try {
      const response = await axios({ url: `${server}${url}`, method, headers, data: body });
      res.send(response.data);
    } catch {
      res.status(500).send('Server error!');
    }
  };
  app.use((req, res) => {
    void handler(req, res);
  });
  return app;
};
