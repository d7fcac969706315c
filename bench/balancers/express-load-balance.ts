// express-load-balance with default options, as its users run it: the built package
// (dist, made by `npm run bench` first) behind express.json().
import path from 'node:path';
import express from 'express';
import type { BuildBalancer } from './types';

type Package = typeof import('../../src/index');
type PrometheusEntry = typeof import('../../src/prometheus');

const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js');
const PROMETHEUS_DIST = path.join(__dirname, '..', '..', 'dist', 'prometheus.js');

function buildFrom(dist: string, interceptor: boolean): BuildBalancer {
  return (targets) => {
    const { loadBalance } = require(dist) as Package;
    const app = express();
    app.use(express.json());
    const lb = loadBalance({ targets });
    if (interceptor) lb.axios.interceptors.request.use((config) => config);
    app.use(lb);
    return app;
  };
}

function candidate(): string {
  const built = process.env.BENCH_CANDIDATE;
  if (built === undefined) throw new Error('BENCH_CANDIDATE is not set');
  return path.resolve(built);
}

export const build: BuildBalancer = buildFrom(DIST, false);

/**
 * With one request interceptor on `lb.axios` that changes nothing: every request then
 * goes through the interceptors, as in an app that signs or traces upstream requests.
 */
export const buildWithInterceptor: BuildBalancer = buildFrom(DIST, true);

/** Another build (BENCH_CANDIDATE, a built index.js), to measure a change against this one in the same run. */
export const buildCandidate: BuildBalancer = (targets) => buildFrom(candidate(), false)(targets);

/** The candidate build with the no-op interceptor. */
export const buildCandidateWithInterceptor: BuildBalancer = (targets) => buildFrom(candidate(), true)(targets);

/**
 * Observed as an operator would: a `proxyEnd` listener and the Prometheus adapter on a
 * registry of its own, beside the stats window every balancer keeps.
 */
export const buildObserved: BuildBalancer = (targets) => {
  const { loadBalance } = require(DIST) as Package;
  const { prometheusMetrics } = require(PROMETHEUS_DIST) as PrometheusEntry;
  const { Registry } = require('prom-client') as typeof import('prom-client');
  const app = express();
  app.use(express.json());
  const lb = loadBalance({ targets });
  let ended = 0;
  lb.on('proxyEnd', () => void ended++);
  prometheusMetrics(lb, { registry: new Registry() });
  app.use(lb);
  return app;
};
