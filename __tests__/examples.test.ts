// The tutorial in examples/tutorial, as README.md tells users to run it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { BALANCER_PORT, startBalancer, type RunningBalancer } from '../examples/tutorial/balancer';
import { APP_PORTS, startAppServers, type AppServer } from '../examples/tutorial/servers';
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
