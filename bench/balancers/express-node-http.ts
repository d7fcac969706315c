// Express 5 with a bare node:http client and a keep-alive agent (E): the framework and
// the HTTP client express-load-balance is built on, with no balancing features. What
// express-load-balance costs above E is its own work. Behind express.json() like the
// other Express contenders, so a parsed JSON body is sent re-serialised.
import http from 'node:http';
import express from 'express';
import { forwardedHeaders } from './hop-by-hop';
import { relay } from './node-http';
import { rotation } from './rotation';
import type { BuildBalancer } from './types';

export const build: BuildBalancer = (targets) => {
  const next = rotation(targets.map((target) => new URL(target)));
  const agent = new http.Agent({ keepAlive: true });
  const app = express();
  app.use(express.json());
  app.use((req, res) => {
    const target = next();
    const headers = forwardedHeaders(req.headers, target.host);
    // body-parser leaves req.body undefined unless it parsed the body.
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
    const upstream = relay(agent, target, req, res, req.originalUrl, headers);
    if (body !== undefined) upstream.end(body);
    else req.pipe(upstream);
  });
  return app;
};
