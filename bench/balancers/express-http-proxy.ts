// express-http-proxy with a host function; memoizeHost (default true) would pin the
// first host forever, so it is turned off for the rotation to happen.
import express from 'express';
import proxy from 'express-http-proxy';
import { rotation } from './rotation';
import type { BuildBalancer } from './types';

export const build: BuildBalancer = (targets) => {
  const next = rotation(targets);
  const app = express();
  app.use(express.json());
  app.use(proxy(() => next(), { memoizeHost: false }));
  return app;
};
