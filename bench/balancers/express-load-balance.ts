// express-load-balance with default options, as its users run it: the built package
// (dist, made by `npm run bench` first) behind express.json().
import path from 'node:path';
import express from 'express';
import type { BuildBalancer } from './types';

type Package = typeof import('../../src/index');

const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js');

function buildFrom(dist: string): BuildBalancer {
  return (targets) => {
    const { loadBalance } = require(dist) as Package;
    const app = express();
    app.use(express.json());
    app.use(loadBalance({ targets }));
    return app;
  };
}

export const build: BuildBalancer = buildFrom(DIST);

/** Another build (BENCH_CANDIDATE, a built index.js), to measure a change against this one in the same run. */
export const buildCandidate: BuildBalancer = (targets) => {
  const candidate = process.env.BENCH_CANDIDATE;
  if (candidate === undefined) throw new Error('BENCH_CANDIDATE is not set');
  return buildFrom(path.resolve(candidate))(targets);
};

/**
 * With one request interceptor on `lb.axios` that changes nothing: every request then
 * goes through axios's pipeline, as in an app that signs or traces upstream requests.
 */
export const buildWithInterceptor: BuildBalancer = (targets) => {
  const { loadBalance } = require(DIST) as Package;
  const app = express();
  app.use(express.json());
  const lb = loadBalance({ targets });
  lb.axios.interceptors.request.use((config) => config);
  app.use(lb);
  return app;
};
