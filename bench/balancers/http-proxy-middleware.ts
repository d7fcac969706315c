// http-proxy-middleware 3 spreading requests with its `router` option. Behind
// express.json() it needs its documented fixRequestBody, or a parsed POST would hang.
import http from 'node:http';
import express from 'express';
import { createProxyMiddleware, fixRequestBody } from 'http-proxy-middleware';
import { rotation } from './rotation';
import type { BuildBalancer } from './types';

function httpProxyMiddleware(targets: readonly string[], agent: http.Agent | undefined): http.RequestListener {
  const next = rotation(targets);
  const app = express();
  app.use(express.json());
  app.use(createProxyMiddleware({ target: targets[0], router: () => next(), agent, on: { proxyReq: fixRequestBody } }));
  return app;
}

/** Its defaults: no agent, so http-proxy opens a connection per request and sends `Connection: close`. */
export const build: BuildBalancer = (targets) => httpProxyMiddleware(targets, undefined);

/** With a keep-alive agent, as its docs advise for throughput. */
export const buildKeepAlive: BuildBalancer = (targets) => httpProxyMiddleware(targets, new http.Agent({ keepAlive: true }));
