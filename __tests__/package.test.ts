// The package as users get it: packed into a tarball, installed into an app outside this
// repository (so nothing can resolve through the repository's own node_modules), then used
// from CommonJS, from ESM and from TypeScript.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const REPO = path.resolve(__dirname, '..');
const TSC = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
const { version } = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string };

// Packing and installing take a few seconds on a warm npm cache, more on a cold one.
jest.setTimeout(180_000);

/** The run-time exports, in the order `Object.keys(...).sort()` gives. */
const RUNTIME_EXPORTS = [
  'BadGatewayError',
  'BadRequestError',
  'GatewayTimeoutError',
  'LoadBalanceError',
  'NoTargetError',
  'PayloadTooLargeError',
  'QueueTimeoutError',
  'SaturatedError',
  'dnsTargets',
  'isLoadBalanceError',
  'loadBalance',
];

/** Left out of the copy that is packed: installed or generated, like in a fresh clone. */
const NOT_COPIED = new Set(['node_modules', '.git', 'dist', 'coverage', '.tmp']);

let work = '';
let app = '';
/** A second app that also installs the optional peers prom-client and @opentelemetry/api. */
let promApp = '';
let tarballFiles: string[] = [];

/** Runs a command; on failure the error carries its whole output. */
async function run(file: string, args: string[], cwd: string): Promise<string> {
  const env = { ...process.env };
  // Resolution must go through the app's node_modules only.
  delete env.NODE_PATH;
  try {
    const { stdout } = await exec(file, args, { cwd, env, timeout: 150_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const { stdout = '', stderr = '', signal } = error as { stdout?: string; stderr?: string; signal?: string };
    const how = signal ? `was killed (${signal}): did it hang?` : 'failed';
    throw new Error(`${file} ${args.join(' ')} ${how} in ${cwd}:\n${stdout}\n${stderr}`, { cause: error });
  }
}

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'elb-package-'));

  // Pack from a copy of the working tree without dist/, so that `npm pack` has to build
  // through `prepack`, as `npm publish` does, and so that this test never races another
  // run over the repository's dist/.
  const stage = path.join(work, 'stage');
  fs.cpSync(REPO, stage, {
    recursive: true,
    filter: (source) => path.dirname(source) !== REPO || (!NOT_COPIED.has(path.basename(source)) && !source.endsWith('.tgz')),
  });
  fs.symlinkSync(path.join(REPO, 'node_modules'), path.join(stage, 'node_modules'), 'dir');
  const packed = path.join(work, 'packed');
  fs.mkdirSync(packed);
  await run('npm', ['pack', '--pack-destination', packed], stage);
  const [tarball, ...others] = fs.readdirSync(packed);
  expect(others).toEqual([]);
  expect(tarball).toBe(`express-load-balance-${version}.tgz`);
  const tarballPath = path.join(packed, tarball!);
  tarballFiles = (await run('tar', ['tzf', tarballPath], work))
    .split('\n')
    .filter((line) => line !== '' && !line.endsWith('/'))
    .map((line) => line.replace(/^package\//, ''))
    .sort();

  app = path.join(work, 'app');
  fs.mkdirSync(app);
  writeFiles(app, CONSUMER_FILES);
  promApp = path.join(work, 'prom-app');
  fs.mkdirSync(promApp);
  writeFiles(promApp, PROM_CONSUMER_FILES);
  const install = [
    'install',
    tarballPath,
    'express@5',
    '@types/express@5',
    '@types/node@20',
    '--no-audit',
    '--no-fund',
    '--prefer-offline',
  ];
  // prom-client is an optional peer: the first app goes without it, as most users will.
  await Promise.all([run('npm', install, app), run('npm', [...install, 'prom-client@15', '@opentelemetry/api@1'], promApp)]);
});

afterAll(() => {
  if (work !== '') fs.rmSync(work, { recursive: true, force: true, maxRetries: 3 });
});

describe('the published package', () => {
  it('holds the builds, their types and the docs, and nothing else', () => {
    expect(tarballFiles).toEqual(
      expect.arrayContaining([
        'CHANGELOG.md',
        'LICENSE',
        'README.md',
        'dist/index.d.mts',
        'dist/index.d.ts',
        'dist/index.js',
        'dist/index.mjs',
        'dist/prometheus.d.mts',
        'dist/prometheus.d.ts',
        'dist/prometheus.js',
        'dist/prometheus.mjs',
        'package.json',
      ]),
    );
    // No sources, tests, examples, CI scripts, configs or benchmarks.
    expect(tarballFiles.filter((file) => !/^(dist\/[^/]+|package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(file))).toEqual([]);
  });

  it('brings axios, debug and http-proxy-middleware as dependencies and leaves express, and optionally prom-client and @opentelemetry/api, to the app', () => {
    const installed = JSON.parse(fs.readFileSync(path.join(app, 'node_modules', 'express-load-balance', 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      peerDependencies: Record<string, string>;
      peerDependenciesMeta: Record<string, { optional?: boolean }>;
    };
    expect(Object.keys(installed.dependencies)).toEqual(['axios', 'debug', 'http-proxy-middleware']);
    expect(Object.keys(installed.peerDependencies)).toEqual(['@opentelemetry/api', 'express', 'prom-client']);
    expect(installed.peerDependenciesMeta).toEqual({ '@opentelemetry/api': { optional: true }, 'prom-client': { optional: true } });
    expect(fs.existsSync(path.join(app, 'node_modules', 'axios', 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(app, 'node_modules', 'debug', 'package.json'))).toBe(true);
    // lb.upgrade runs on it: the build must load it from the app, not carry a copy.
    expect(fs.existsSync(path.join(app, 'node_modules', 'http-proxy-middleware', 'package.json'))).toBe(true);
    expect(fs.existsSync(path.join(app, 'node_modules', 'express-load-balance', 'node_modules', 'express'))).toBe(false);
    // Optional peers are not installed for the app: the main entry must do without them.
    expect(fs.existsSync(path.join(app, 'node_modules', 'prom-client'))).toBe(false);
    expect(fs.existsSync(path.join(app, 'node_modules', '@opentelemetry', 'api'))).toBe(false);
  });

  it('never loads prom-client from the main entry', () => {
    for (const build of ['index.js', 'index.mjs']) {
      const code = fs.readFileSync(path.join(app, 'node_modules', 'express-load-balance', 'dist', build), 'utf8');
      expect(code).not.toContain('prom-client');
    }
  });

  it('works from CommonJS', async () => {
    const report = JSON.parse(await run(process.execPath, ['consumer.cjs'], app)) as unknown;
    expect(report).toEqual({
      resolved: 'node_modules/express-load-balance/dist/index.js',
      exports: RUNTIME_EXPORTS,
      hasDefault: false,
      version,
      deepImport: 'ERR_PACKAGE_PATH_NOT_EXPORTED',
      prometheusWithoutPromClient: ['MODULE_NOT_FOUND', true],
      answers: ['200 upstream 1 got /users?id=7', '200 upstream 2 got /users?id=7'],
      failure: '502 BadGatewayError ELB_BAD_GATEWAY',
    });
  });

  it('works from ESM, and its errors are recognised by the CommonJS copy', async () => {
    const report = JSON.parse(await run(process.execPath, ['consumer.mjs'], app)) as unknown;
    expect(report).toEqual({
      resolved: 'node_modules/express-load-balance/dist/index.mjs',
      exports: RUNTIME_EXPORTS,
      hasDefault: false,
      acrossCopies: [true, true],
      answers: ['200 upstream 1 got /users?id=7', '200 upstream 2 got /users?id=7'],
      failure: '502 BadGatewayError ELB_BAD_GATEWAY',
    });
  });

  it.each([
    ['CommonJS', 'consumer.cjs', 'dist/prometheus.js'],
    ['ESM', 'consumer.mjs', 'dist/prometheus.mjs'],
  ])('serves express-load-balance/prometheus from %s when prom-client is installed', async (_kind, file, build) => {
    const report = JSON.parse(await run(process.execPath, [file], promApp)) as unknown;
    expect(report).toEqual({
      resolved: `node_modules/express-load-balance/${build}`,
      exports: ['prometheusMetrics'],
      answer: '200 upstream got /users',
      sample: expect.stringMatching(
        /^elb_requests_total\{target="http:\/\/127\.0\.0\.1:\d+",method="GET",status_class="2xx"\} 1$/,
      ) as unknown,
    });
  });

  it.each([
    ['CommonJS', 'tracing.cjs'],
    ['ESM', 'tracing.mjs'],
  ])('loads @opentelemetry/api from %s when it is installed, and sees the active span', async (_kind, file) => {
    const report = JSON.parse(await run(process.execPath, [file], promApp)) as unknown;
    // Under a span the client's traceparent is not copied: the build found the API and
    // read the span through it. Outside one, it passes through.
    expect(report).toEqual({ traced: '200 no traceparent', plain: `200 ${CLIENT_TRACEPARENT}` });
  });

  it('type-checks a TypeScript consumer of express-load-balance/prometheus', async () => {
    const listed = (await run(process.execPath, [TSC, '--noEmit', '--listFiles', '-p', 'tsconfig.node16.json'], promApp))
      .split('\n')
      .map((file) => path.relative(path.join(promApp, 'node_modules', 'express-load-balance'), file.trim()))
      .filter((file) => /^dist\/(index|prometheus)\./.test(file))
      .sort();
    expect(listed).toEqual(['dist/index.d.mts', 'dist/index.d.ts', 'dist/prometheus.d.mts', 'dist/prometheus.d.ts']);
  });

  it.each([
    ['node16', 'tsconfig.node16.json', ['dist/index.d.mts', 'dist/index.d.ts']],
    ['bundler', 'tsconfig.bundler.json', ['dist/index.d.mts']],
    // Older setups ignore the exports map and read the top-level "types" field.
    ['node10', 'tsconfig.node10.json', ['dist/index.d.ts']],
  ])('type-checks a TypeScript consumer with moduleResolution %s', async (_resolution, project, declarations) => {
    // --listFiles shows which declaration files the exports map led TypeScript to.
    const listed = (await run(process.execPath, [TSC, '--noEmit', '--listFiles', '-p', project], app))
      .split('\n')
      .map((file) => path.relative(path.join(app, 'node_modules', 'express-load-balance'), file.trim()))
      .filter((file) => file.startsWith('dist/'))
      .sort();
    expect(listed).toEqual(declarations);
  });
});

function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

// What both JavaScript consumers do once they hold the package: two upstreams behind
// `app.use('/api', lb)`, two requests (round-robin: 1 then 2), then a target that refuses
// connections, answered through the app's error handler. Everything is closed at the end,
// and the process must then exit by itself: nothing may keep it alive.
const DEMO = `
function listen(handler) {
  return new Promise((resolve) => {
    const server = http.createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const urlOf = (server) => 'http://127.0.0.1:' + server.address().port;
function close(server) {
  return new Promise((resolve) => {
    server.close(resolve);
    server.closeAllConnections();
  });
}
function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => resolve(res.statusCode + ' ' + body));
    }).on('error', reject);
  });
}

async function demo() {
  const upstreams = await Promise.all(
    ['1', '2'].map((name) => listen((req, res) => res.end('upstream ' + name + ' got ' + req.url))),
  );
  const gone = await listen(() => {});
  const goneUrl = urlOf(gone);
  await close(gone);

  const lb = loadBalance({ targets: upstreams.map(urlOf), strategy: 'round-robin' });
  const broken = loadBalance([goneUrl]);
  const app = express();
  app.use('/api', lb);
  app.use('/broken', broken);
  app.use((err, req, res, next) => {
    if (!(err instanceof BadGatewayError) || !isLoadBalanceError(err)) return next(err);
    res.status(err.status).send(err.name + ' ' + err.code);
  });
  const front = await listen(app);
  try {
    const answers = [await get(urlOf(front) + '/api/users?id=7'), await get(urlOf(front) + '/api/users?id=7')];
    const failure = await get(urlOf(front) + '/broken/x');
    return { answers, failure };
  } finally {
    await lb.close();
    await broken.close();
    await Promise.all([front, ...upstreams].map(close));
  }
}
`;

// A consumer written against the public types. Each @ts-expect-error line fails the
// type-check if the types it guards were missing or \`any\`.
const CONSUMER_TS = `import express from 'express';
import {
  BadGatewayError,
  BadRequestError,
  GatewayTimeoutError,
  LoadBalanceError,
  NoTargetError,
  SaturatedError,
  isLoadBalanceError,
  loadBalance,
  type LoadBalanceErrorCode,
  type LoadBalanceMiddleware,
  type BalancerStats,
  type LoadBalanceOptions,
  type ProxyEndEvent,
  type ProxyResEvent,
  type Strategy,
  type StrategyName,
  type Target,
  type TargetStats,
} from 'express-load-balance';

const leastBusy: Strategy = {
  pick: (targets: readonly Target[]) =>
    targets.reduce<Target | undefined>((best, t) => (best === undefined || t.inFlight < best.inFlight ? t : best), undefined),
  onEnd: (target, outcome) => console.log(target.url, outcome.ok, outcome.status ?? 'none', outcome.durationMs.toFixed(0)),
};
const options: LoadBalanceOptions = {
  targets: ['http://127.0.0.1:3000', { url: 'http://127.0.0.1:3001', weight: 2 }],
  strategy: leastBusy,
  timeout: 10_000,
};
const lb: LoadBalanceMiddleware = loadBalance(options);
lb.on('proxyRes', (e) => console.log(e.status.toFixed(0), e.target.url.toUpperCase(), e.durationMs));
lb.on('proxyRes', (e: ProxyResEvent) => {
  // @ts-expect-error a status is a number
  const status: string = e.status;
  return status;
});
// @ts-expect-error there is no such event
lb.on('proxyResponse', () => undefined);
const name: StrategyName = 'random';
const shorthand = loadBalance(['http://127.0.0.1:3002'], name);
// @ts-expect-error 'round-robbin' is not a strategy name
loadBalance({ targets: ['http://127.0.0.1:3000'], strategy: 'round-robbin' });
// @ts-expect-error targets are required
loadBalance({ strategy: 'random' });

const app = express();
app.use('/api', lb);
app.use('/other', shorthand);
app.use((err: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
  if (err instanceof BadGatewayError) {
    const code: 'ELB_BAD_GATEWAY' = err.code;
    res.status(err.status).send(code);
  } else if (isLoadBalanceError(err)) {
    const code: LoadBalanceErrorCode = err.code;
    res.status(err.statusCode).json({ error: code, target: err.target ?? null });
  } else {
    next(err);
  }
});

const errors: LoadBalanceError[] = [
  new BadGatewayError('refused', 'http://127.0.0.1:3000'),
  new GatewayTimeoutError('slow'),
  new NoTargetError('none'),
  new BadRequestError('climbs'),
  new SaturatedError('full', 1),
];
const statuses: number[] = errors.map((e) => e.status);
const counters: number[] = lb.targets().map((t) => t.requests + t.failures + t.inFlight);
const stats: BalancerStats = lb.stats();
const p99: number | null = stats.totals.recent.latency.p99;
const shares: number[] = stats.targets.map((t: TargetStats) => t.recent.share);
// @ts-expect-error a percentile may be null before any request
const p50: number = stats.totals.recent.latency.p50;
app.get('/lb-status', lb.statusHandler());
lb.on('proxyEnd', (e: ProxyEndEvent) => console.log(e.result, e.status ?? 'none', e.durationMs.toFixed(1)));
const closing: Promise<void> = lb.close();
export { statuses, counters, closing, p99, shares, p50 };
`;

const CONSUMER_FILES: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }, null, 2),

  'consumer.cjs': `'use strict';
const http = require('node:http');
const path = require('node:path');
const express = require('express');
const elb = require('express-load-balance');
const { loadBalance, BadGatewayError, isLoadBalanceError } = elb;
${DEMO}
let deepImport = 'allowed';
try {
  require('express-load-balance/dist/index.js');
} catch (err) {
  deepImport = err.code;
}
let prometheusWithoutPromClient = 'loaded';
try {
  require('express-load-balance/prometheus');
} catch (err) {
  prometheusWithoutPromClient = [err.code, err.message.includes("'prom-client'")];
}
demo().then(({ answers, failure }) => {
  console.log(JSON.stringify({
    resolved: path.relative(__dirname, require.resolve('express-load-balance')).split(path.sep).join('/'),
    exports: Object.keys(elb).sort(),
    hasDefault: 'default' in elb,
    version: require('express-load-balance/package.json').version,
    deepImport,
    prometheusWithoutPromClient,
    answers,
    failure,
  }));
});
`,

  'consumer.mjs': `import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import express from 'express';
import * as elb from 'express-load-balance';
import { loadBalance, BadGatewayError, isLoadBalanceError } from 'express-load-balance';

// The CommonJS build is a second copy of every class: errors must still be recognised.
const cjs = createRequire(import.meta.url)('express-load-balance');
${DEMO}
const { answers, failure } = await demo();
console.log(JSON.stringify({
  resolved: path.relative(path.dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.resolve('express-load-balance'))).split(path.sep).join('/'),
  exports: Object.keys(elb).sort(),
  hasDefault: 'default' in elb,
  acrossCopies: [cjs.isLoadBalanceError(new elb.BadGatewayError('x')), elb.isLoadBalanceError(new cjs.NoTargetError('y'))],
  answers,
  failure,
}));
`,

  'consumer.ts': CONSUMER_TS,
  'consumer.mts': CONSUMER_TS,

  'tsconfig.node16.json': tsconfig({ module: 'node16', moduleResolution: 'node16' }, ['consumer.ts', 'consumer.mts']),
  'tsconfig.bundler.json': tsconfig({ module: 'esnext', moduleResolution: 'bundler' }, ['consumer.ts']),
  'tsconfig.node10.json': tsconfig({ module: 'commonjs', moduleResolution: 'node10' }, ['consumer.ts']),
};

// Servers on 127.0.0.1, port 0, for the demos below.
const LISTEN = `const listen = (handler) =>
    new Promise((resolve) => {
      const server = http.createServer(handler);
      server.listen(0, '127.0.0.1', () => resolve(server));
    });
  const urlOf = (server) => 'http://127.0.0.1:' + server.address().port;`;

// The subpath with prom-client installed: one request through a balancer, then a scrape
// of the registry the metrics went to.
const PROM_DEMO = `
async function demo() {
  ${LISTEN}
  const upstream = await listen((req, res) => res.end('upstream got ' + req.url));
  const lb = loadBalance([urlOf(upstream)]);
  const registry = new Registry();
  const metrics = prometheusMetrics(lb, { registry });
  const ended = new Promise((resolve) => lb.on('proxyEnd', resolve));
  const app = express();
  app.use('/api', lb);
  const front = await listen(app);
  try {
    const answer = await new Promise((resolve, reject) => {
      http.get(urlOf(front) + '/api/users', { agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(res.statusCode + ' ' + body));
      }).on('error', reject);
    });
    await ended;
    const sample = (await registry.metrics()).split('\\n').find((line) => line.startsWith('elb_requests_total{'));
    return { answer, sample };
  } finally {
    metrics.close();
    await lb.close();
    for (const server of [front, upstream]) {
      server.closeAllConnections();
      server.close();
    }
  }
}
`;

const CLIENT_TRACEPARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

// The optional @opentelemetry/api with a context manager (a minimal one on
// AsyncLocalStorage, the part of the SDK it needs) and a span made active around the
// balancer: what the traceparent the upstream gets shows of what the balancer saw.
const TRACE_DEMO = `
context.setGlobalContextManager({
  active: () => storage.getStore() ?? ROOT_CONTEXT,
  with: (ctx, fn, thisArg, ...args) => storage.run(ctx, () => fn.apply(thisArg, args)),
  bind: (_ctx, target) => target,
  enable() { return this; },
  disable() { return this; },
});
const storage = new AsyncLocalStorage();

async function demo() {
  ${LISTEN}
  const upstream = await listen((req, res) => res.end(req.headers.traceparent ?? 'no traceparent'));
  const lb = loadBalance([urlOf(upstream)]);
  const span = trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1 });
  const app = express();
  app.use('/traced', (_req, _res, next) => context.with(trace.setSpan(context.active(), span), next), lb);
  app.use('/plain', lb);
  const front = await listen(app);
  const get = (path) =>
    new Promise((resolve, reject) => {
      http.get(urlOf(front) + path, { agent: false, headers: { traceparent: '${CLIENT_TRACEPARENT}' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve(res.statusCode + ' ' + body));
      }).on('error', reject);
    });
  try {
    return { traced: await get('/traced/x'), plain: await get('/plain/x') };
  } finally {
    await lb.close();
    for (const server of [front, upstream]) {
      server.closeAllConnections();
      server.close();
    }
  }
}
`;

const PROM_CONSUMER_TS = `import { Registry } from 'prom-client';
import { loadBalance } from 'express-load-balance';
import { prometheusMetrics, type PrometheusMetrics, type PrometheusOptions } from 'express-load-balance/prometheus';

const options: PrometheusOptions = { registry: new Registry(), prefix: 'front_', buckets: [0.1, 1] };
const metrics: PrometheusMetrics = prometheusMetrics(loadBalance(['http://127.0.0.1:3000']), options);
const names: readonly string[] = metrics.names;
// @ts-expect-error a prefix is a string
prometheusMetrics(loadBalance(['http://127.0.0.1:3000']), { prefix: 1 });
export { names };
`;

const PROM_CONSUMER_FILES: Record<string, string> = {
  'package.json': JSON.stringify({ name: 'prom-consumer', version: '1.0.0', private: true }, null, 2),

  'consumer.cjs': `'use strict';
const http = require('node:http');
const path = require('node:path');
const express = require('express');
const { Registry } = require('prom-client');
const { loadBalance } = require('express-load-balance');
const prometheus = require('express-load-balance/prometheus');
const { prometheusMetrics } = prometheus;
${PROM_DEMO}
demo().then(({ answer, sample }) => {
  console.log(JSON.stringify({
    resolved: path.relative(__dirname, require.resolve('express-load-balance/prometheus')).split(path.sep).join('/'),
    exports: Object.keys(prometheus).sort(),
    answer,
    sample,
  }));
});
`,

  'consumer.mjs': `import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { Registry } from 'prom-client';
import { loadBalance } from 'express-load-balance';
import * as prometheus from 'express-load-balance/prometheus';
import { prometheusMetrics } from 'express-load-balance/prometheus';
${PROM_DEMO}
const { answer, sample } = await demo();
console.log(JSON.stringify({
  resolved: path.relative(path.dirname(fileURLToPath(import.meta.url)), fileURLToPath(import.meta.resolve('express-load-balance/prometheus'))).split(path.sep).join('/'),
  exports: Object.keys(prometheus).sort(),
  answer,
  sample,
}));
`,

  'tracing.cjs': `'use strict';
const http = require('node:http');
const { AsyncLocalStorage } = require('node:async_hooks');
const express = require('express');
const { context, trace, ROOT_CONTEXT } = require('@opentelemetry/api');
const { loadBalance } = require('express-load-balance');
${TRACE_DEMO}
demo().then((report) => console.log(JSON.stringify(report)));
`,

  // The app's ESM copy of the API and the balancer's CommonJS one share their state.
  'tracing.mjs': `import http from 'node:http';
import { AsyncLocalStorage } from 'node:async_hooks';
import express from 'express';
import { context, trace, ROOT_CONTEXT } from '@opentelemetry/api';
import { loadBalance } from 'express-load-balance';
${TRACE_DEMO}
console.log(JSON.stringify(await demo()));
`,

  'consumer.ts': PROM_CONSUMER_TS,
  'consumer.mts': PROM_CONSUMER_TS,
  'tsconfig.node16.json': tsconfig({ module: 'node16', moduleResolution: 'node16' }, ['consumer.ts', 'consumer.mts']),
};

function tsconfig(resolution: { module: string; moduleResolution: string }, files: string[]): string {
  return JSON.stringify(
    {
      compilerOptions: {
        ...resolution,
        target: 'ES2022',
        lib: ['ES2022'],
        types: ['node'],
        strict: true,
        esModuleInterop: true,
        // Check the package's own declaration files too.
        skipLibCheck: false,
        noEmit: true,
      },
      files,
    },
    null,
    2,
  );
}
