// express-load-balance with default options, as its users run it: the built package
// (dist, made by `npm run bench` first) behind express.json().
import path from 'node:path';
import express from 'express';
import type { BuildBalancer } from './types';

type Package = typeof import('../../src/index');

const DIST = path.join(__dirname, '..', '..', 'dist', 'index.js');

export const build: BuildBalancer = (targets) => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { loadBalance } = require(DIST) as Package;
  const app = express();
  app.use(express.json());
  app.use(loadBalance({ targets }));
  return app;
};
