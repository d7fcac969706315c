// The tutorial in examples/tutorial, as README.md tells users to run it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { BALANCER_PORT, startBalancer, type RunningBalancer } from '../examples/tutorial/balancer';
import { APP_PORTS, startAppServers, type AppServer } from '../examples/tutorial/servers';
import type { LoadBalanceMiddleware } from 'express-load-balance';
import { startAfter } from '../examples/from-http-proxy-middleware/after';
import { startBefore } from '../examples/from-http-proxy-middleware/before';
import { startUpstreams } from '../examples/from-http-proxy-middleware/upstreams';
import { request } from './helpers/servers';

const REPO = path.resolve(__dirname, '..');
const answer = (n: number) => `Response from server Test: ${n}`;

function closeServer({ server }: { server: import('node:http').Server }): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

describe('the tutorial example, in process', () => {
  let apps: AppServer[] = [];
  let balancer: RunningBalancer | undefined;

  beforeEach(() => {
    // The example narrates what it starts; the test output does not need it.
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });

  afterEach(async () => {
    await balancer?.lb.close();
    await Promise.all([...apps, ...(balancer ? [balancer] : [])].map(closeServer));
    apps = [];
    balancer = undefined;
    jest.restoreAllMocks();
  });

  it('answers 1, 2, 3, 1, 2, 3 and answers a POST too', async () => {
    apps = await startAppServers([0, 0, 0]);
    balancer = await startBalancer(
      apps.map((app) => app.url),
      0,
    );
    expect(apps.map((app) => app.port)).not.toContain(0);
    expect(balancer.port).not.toBe(0);
    const url = `http://127.0.0.1:${balancer.port}`;

    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push((await request(url, { path: '/' })).text);
    expect(answers).toEqual([1, 2, 3, 1, 2, 3].map(answer));

    const posted = await request(url, {
      method: 'POST',
      path: '/orders',
      headers: { 'content-type': 'text/plain' },
      body: 'one pizza',
    });
    expect(posted.status).toBe(200);
    expect(posted.text).toBe(answer(1));
  });
});

describe('examples/from-http-proxy-middleware: before and after give the same answers', () => {
  let servers: Array<{ server: import('node:http').Server }> = [];
  let lb: LoadBalanceMiddleware | undefined;

  afterEach(async () => {
    await lb?.close();
    await Promise.all(servers.map(closeServer));
    servers = [];
    lb = undefined;
  });

  /** What a client sees of each answer that the rewrites could change. */
  async function session(port: number): Promise<unknown[]> {
    const url = `http://127.0.0.1:${port}`;
    const headers = { host: `shop.test:${port}` };
    const seen: unknown[] = [];
    for (const [method, path] of [
      ['GET', '/api/items/1'],
      ['GET', '/api/items/2'],
      ['POST', '/api/items'],
      ['POST', '/api/login'],
      ['GET', '/api/help'],
    ] as const) {
      const response = await request(url, { method, path, headers });
      seen.push({
        request: `${method} ${path}`,
        status: response.status,
        location: response.headers.location?.replace(String(port), '<port>'),
        setCookie: response.headers['set-cookie'],
        body: response.headers['content-type']?.startsWith('application/json') ? response.text : undefined,
      });
    }
    return seen;
  }

  it('answers the same requests with the same statuses, bodies, redirects and cookies', async () => {
    const upstreams = await startUpstreams([0, 0]);
    servers.push(...upstreams);
    const targets = upstreams.map((upstream) => upstream.url);
    const before = await startBefore(targets, 0);
    servers.push(before);
    const after = await startAfter(targets, 0);
    servers.push(after);
    lb = after.lb;

    const expected = await session(before.port);
    expect(await session(after.port)).toEqual(expected);
    // And what both give is what the example promises.
    expect(expected).toEqual([
      { request: 'GET /api/items/1', status: 200, location: undefined, setCookie: undefined, body: '{"id":"1"}' },
      { request: 'GET /api/items/2', status: 200, location: undefined, setCookie: undefined, body: '{"id":"2"}' },
      {
        request: 'POST /api/items',
        status: 201,
        location: 'http://shop.test:<port>/api/items/7',
        setCookie: undefined,
        body: '{"id":"7"}',
      },
      {
        request: 'POST /api/login',
        status: 302,
        location: 'http://shop.test:<port>/api/items/1',
        setCookie: ['sid=abc123; Path=/api; HttpOnly'],
        body: undefined,
      },
      { request: 'GET /api/help', status: 302, location: 'https://docs.example/shop', setCookie: undefined, body: undefined },
    ]);
  });
});

describe("README's table for users of http-proxy-middleware", () => {
  /** The property names declared in one interface of a .d.ts file (its comments left out). */
  function declared(file: string, name: string): string[] {
    const source = readFileSync(path.join(REPO, 'node_modules', file), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '');
    const at = source.search(new RegExp(`interface ${name}\\b`));
    expect(at).toBeGreaterThan(-1);
    const open = source.indexOf('{', at);
    let depth = 0;
    let end = open;
    do {
      if (source[end] === '{') depth++;
      else if (source[end] === '}') depth--;
      end++;
    } while (depth > 0);
    // Top-level members only: a nested type's keys sit deeper, between braces.
    const body = source.slice(open + 1, end - 1).replace(/\{[^{}]*\}/g, '{}');
    return [...body.matchAll(/^\s*(\w+)\??:/gm)].map((m) => m[1]!);
  }

  it('lists every option and event of the installed version, and counts them right', () => {
    const own = declared('http-proxy-middleware/dist/types.d.ts', 'Options').filter((key) => key !== 'on');
    const events = declared('http-proxy-middleware/dist/types.d.ts', 'OnProxyEvent').map((event) => `on.${event}`);
    const httpProxy = declared('@types/http-proxy/index.d.ts', 'ServerOptions');
    const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const section = readme.slice(
      readme.indexOf('## Coming from http-proxy-middleware'),
      readme.indexOf('## How the upstream path is built'),
    );
    const rows = [...section.matchAll(/^\| `([\w.]+)` \| .+ \| (same name|another name|not needed|not supported)\b/gm)];
    const listed = rows.map((row) => row[1]);
    expect([...listed].sort()).toEqual([...own, ...events, ...httpProxy].sort());
    const count = (kind: string) => rows.filter((row) => row[2] === kind).length;
    const same = count('same name');
    const other = count('another name');
    expect(section).toContain(
      `**${same + other} of ${rows.length} have an equivalent** (${same} under the same name, ${other} under another)`,
    );
    expect(section).toContain(`${count('not needed')} are not needed, ${count('not supported')} are\nnot supported`);
  });
});

/**
 * Ports the tutorial needs that something else holds. Checked synchronously, in a child
 * process, because jest decides which tests to skip before any of them runs.
 */
function busyTutorialPorts(): number[] {
  const probe = `
    const net = require('node:net');
    const ports = ${JSON.stringify([...APP_PORTS, BALANCER_PORT])};
    Promise.all(ports.map((port) => new Promise((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(port));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(undefined)));
    }))).then((busy) => console.log(JSON.stringify(busy.filter((p) => p !== undefined))));
  `;
  const result = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8' });
  return JSON.parse(result.stdout) as number[];
}

const busy = busyTutorialPorts();
const ON_CI = process.env.CI === 'true';
// Taken ports skip these tests on a developer's machine; on CI they fail instead.
const itWithFreePorts = busy.length === 0 || ON_CI ? it : it.skip;
const busyPorts = `${busy.length === 1 ? 'port' : 'ports'} ${busy.join(', ')} in use on this machine`;
const skipNote = busy.length === 0 ? '' : ON_CI ? ` (fails on CI: ${busyPorts})` : ` (skipped: ${busyPorts})`;

/** `npm run <script>` (`-- <extraArgs>`), started by {@link runScript}. */
interface ScriptRun {
  child: ChildProcess;
  /** Everything it printed so far, stdout and stderr together. */
  output: string;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
}

/**
 * Runs a package.json script the way `npm run` would, but without npm: on Ctrl-C npm
 * dies of the signal instead of reporting its child's exit code. The child leads its
 * own process group, so ending the group ends the example and tsx together.
 */
function runScript(script: string, extraArgs: readonly string[] = []): ScriptRun {
  const pkg = JSON.parse(readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const [bin, ...args] = pkg.scripts[script]!.split(' ');
  expect(bin).toBe('tsx');
  const tsx = path.join(REPO, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  const child = spawn(process.execPath, [tsx, ...args, ...extraArgs], { cwd: REPO, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const run: ScriptRun = { child, output: '', exited: once(child, 'exit') as ScriptRun['exited'] };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (run.output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (run.output += chunk));
  return run;
}

/**
 * Resolves true once the example says it is ready; false, with a warning saying the test
 * checked nothing, if another run took its ports between the check above and now (on CI,
 * where the ports must be free, that throws too). Throws if it exits for another reason.
 */
async function readyOrPortsTaken(run: ScriptRun, script: string): Promise<boolean> {
  const ready = await new Promise<boolean>((resolve) => {
    run.child.stdout!.on('data', () => {
      if (run.output.includes('Open http://localhost:8080/')) resolve(true);
    });
    void run.exited.then(() => resolve(false));
  });
  if (ready) return true;
  if (run.output.includes('EADDRINUSE') && !ON_CI) {
    console.warn(`npm run ${script} could not be tested, so this test checked nothing: ${run.output}`);
    return false;
  }
  throw new Error(`the example exited before it was ready:\n${run.output}`);
}

/** Ctrl-C as a terminal sends it, to the whole foreground process group; then how it exited. */
async function interrupt(run: ScriptRun): Promise<{ exit: [number | null, NodeJS.Signals | null] | 'still running'; output: string }> {
  process.kill(-run.child.pid!, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    run.exited,
    new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 10_000))),
  ]);
  clearTimeout(timer);
  return { exit, output: run.output };
}

/** Ends a run a failed test left behind, with its whole process group. */
function killLeftover(run: ScriptRun | undefined): void {
  const child = run?.child;
  if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(-child.pid, 'SIGKILL');
}

const stoppedCleanly = { exit: [0, null], output: expect.stringContaining('Shutting down') as string };

describe('npm run example', () => {
  let run: ScriptRun | undefined;
  afterAll(() => killLeftover(run));

  itWithFreePorts(`starts the tutorial, answers 1, 2, 3 and stops with code 0 on Ctrl-C${skipNote}`, async () => {
    run = runScript('example');
    if (!(await readyOrPortsTaken(run, 'example'))) return;

    const answers: string[] = [];
    for (let i = 0; i < 3; i++) answers.push((await request('http://127.0.0.1:8080', { path: '/' })).text);
    expect(answers).toEqual([1, 2, 3].map(answer));

    expect(await interrupt(run)).toEqual(stoppedCleanly);
  });
});

describe('npm run example:cluster', () => {
  let run: ScriptRun | undefined;
  afterAll(() => killLeftover(run));

  itWithFreePorts(`sends a key to the same server from every worker, and stops with code 0 on Ctrl-C${skipNote}`, async () => {
    run = runScript('example:cluster');
    if (!(await readyOrPortsTaken(run, 'example:cluster'))) return;

    // Each request is a new connection, and the primary deals connections out in turn.
    const responses = [];
    for (let i = 0; i < 6; i++) responses.push(await request('http://127.0.0.1:8080', { path: '/', headers: { 'x-user': 'alice' } }));
    expect(new Set(responses.map((r) => r.text)).size).toBe(1);
    expect(new Set(responses.map((r) => r.headers['x-worker'])).size).toBe(Math.min(2, availableParallelism()));

    expect(await interrupt(run)).toEqual(stoppedCleanly);
  });
});

describe('npm run example:load', () => {
  let tutorial: ScriptRun | undefined;
  let load: ScriptRun | undefined;
  afterAll(() => {
    killLeftover(load);
    killLeftover(tutorial);
  });

  itWithFreePorts(`says nothing listens on 8080 and exits with code 1 when the tutorial is not running${skipNote}`, async () => {
    load = runScript('example:load', ['1']);
    expect(await load.exited).toEqual([1, null]);
    expect(load.output).toContain('Nothing listens on http://127.0.0.1:8080');
  });

  itWithFreePorts(`loads the running tutorial for 2 s and counts the answers of all three servers${skipNote}`, async () => {
    tutorial = runScript('example');
    if (!(await readyOrPortsTaken(tutorial, 'example'))) return;

    load = runScript('example:load', ['2']);
    expect(await load.exited).toEqual([0, null]);
    expect(load.output).toMatch(/\d+ s: \d+ requests answered/);
    expect(load.output).toMatch(/\b\d+ req\/s, latency p50 [\d.]+ ms, p99 [\d.]+ ms/);
    for (const server of [1, 2, 3]) expect(load.output).toMatch(new RegExp(`server ${server}: [1-9]\\d*`));

    expect(await interrupt(tutorial)).toEqual(stoppedCleanly);
  });
});
