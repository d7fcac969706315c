// Express 5 with a bare undici Pool per target (U): what the same framework costs
// with the leanest Node HTTP client and no balancing features. Behind express.json()
// like the other Express contenders, so a parsed JSON body is sent re-serialised.
import { pipeline } from 'node:stream';
import express from 'express';
import { Pool } from 'undici';
import { forwardedHeaders } from './hop-by-hop';
import { rotation } from './rotation';
import type { BuildBalancer } from './types';

export const build: BuildBalancer = (targets) => {
  const next = rotation(targets.map((target) => ({ pool: new Pool(target), host: new URL(target).host })));
  const app = express();
  app.use(express.json());
  app.use((req, res) => {
    const { pool, host } = next();
    const headers = forwardedHeaders(req.headers, host);
    // body-parser leaves req.body undefined unless it parsed the body.
    let body: string | typeof req = req;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const method = req.method as 'GET';
    pool
      .request({
        path: req.originalUrl,
        method,
        headers: headers as Record<string, string>,
        body: method === 'GET' || method === 'HEAD' ? null : body,
      })
      .then(
        (answer) => {
          res.writeHead(answer.statusCode, forwardedHeaders(answer.headers, host));
          pipeline(answer.body, res, () => {});
        },
        () => {
          if (res.headersSent) res.destroy();
          else res.status(502).end();
        },
      );
  });
  return app;
};
