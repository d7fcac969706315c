// `npm run bench:hedge`: the case hedged requests are for. Three upstreams answer in about
// 5 ms, but one of them takes 1 s on every 20th request it gets (5 % of its requests). The
// same load goes through a balancer without hedging, then through one with
// `hedge: { delay: 'p95' }`, in the same run: client latency p50/p99 and the upstream
// requests beyond one per client request. The target: p99 at most 3 × the normal answer
// time (the median without hedging), extra requests under 10 %.
//
// The upstreams run in a child process, so their timers are not delayed by the balancer's
// work; the client and the balancer share this one. Figures move with the machine: on a
// busy one, read the ratio of the two runs.
import { fork } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadBalance, type LoadBalanceOptions } from '../src';
import { SideReport } from './side-report';

const NORMAL_MS = 5;
const SLOW_MS = 1_000;
/** The slow upstream takes SLOW_MS on every SLOW_EVERY-th request: 5 %. */
const SLOW_EVERY = 20;
const CONNECTIONS = 10;
const WARMUP = 300;
const REQUESTS = Number(process.env.HEDGE_REQUESTS ?? 3_000);

/** The child: three upstreams on 127.0.0.1, the last one slow now and then; sends their ports. */
function runUpstreams(): void {
  const servers = [0, 1, 2].map((i) => {
    let seen = 0;
    return http.createServer((_req, res) => {
      const slow = i === 2 && ++seen % SLOW_EVERY === 0;
      setTimeout(() => res.end(`upstream ${i}`), slow ? SLOW_MS : NORMAL_MS);
    });
  });
  let listening = 0;
  for (const server of servers) {
    server.listen(0, '127.0.0.1', () => {
      if (++listening === servers.length) process.send!(servers.map((s) => (s.address() as AddressInfo).port));
    });
  }
  process.on('disconnect', () => process.exit(0));
}

function startUpstreams(): Promise<{ ports: number[]; stop: () => void }> {
  const child = fork(__filename, ['upstreams'], { execArgv: ['--require', require.resolve('tsx/cjs')] });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (ports) => resolve({ ports: ports as number[], stop: () => child.kill() }));
  });
}

interface Run {
  readonly name: string;
  readonly latencies: number[];
  readonly upstreamRequests: number;
  readonly hedges: number;
}

function percentile(sorted: readonly number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

function get(agent: http.Agent, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

/** `count` GETs over CONNECTIONS keep-alive connections; the latency of each, in ms. */
async function load(port: number, count: number): Promise<number[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next++ < count) {
      const start = performance.now();
      await get(agent, port);
      latencies.push(performance.now() - start);
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  agent.destroy();
  return latencies;
}

async function run(name: string, ports: readonly number[], options: Omit<LoadBalanceOptions, 'targets'>): Promise<Run> {
  const lb = loadBalance({ targets: ports.map((port) => `http://127.0.0.1:${port}`), outlierDetection: false, ...options });
  let upstreamRequests = 0;
  let hedges = 0;
  lb.on('proxyReq', () => upstreamRequests++);
  lb.on('hedge', () => hedges++);
  const app = express();
  app.use(lb);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  // The warm-up fills the latency window a percentile delay reads (50 attempts at least).
  await load(port, WARMUP);
  upstreamRequests = 0;
  hedges = 0;
  const latencies = await load(port, REQUESTS);
  await lb.close();
  await new Promise((resolve) => server.close(resolve));
  return { name, latencies: latencies.sort((a, b) => a - b), upstreamRequests, hedges };
}

async function main(): Promise<void> {
  const upstreams = await startUpstreams();
  const report = new SideReport('hedge');
  try {
    report.line(
      `${REQUESTS} GETs (after ${WARMUP} to warm up) over ${CONNECTIONS} connections; 3 upstreams answer in ${NORMAL_MS} ms, ` +
        `one of them in ${SLOW_MS} ms on every ${SLOW_EVERY}th request.\n`,
    );
    const runs = [
      await run('no hedging', upstreams.ports, {}),
      await run("hedge: { delay: 'p95' }", upstreams.ports, { hedge: { delay: 'p95' } }),
    ];
    report.line('| balancer | p50 ms | p99 ms | max ms | upstream requests | extra | hedges |');
    report.line('|---|---|---|---|---|---|---|');
    for (const { name, latencies, upstreamRequests, hedges } of runs) {
      const extra = ((upstreamRequests - REQUESTS) / REQUESTS) * 100;
      report.line(
        `| ${name} | ${percentile(latencies, 0.5).toFixed(1)} | ${percentile(latencies, 0.99).toFixed(1)} | ` +
          `${latencies[latencies.length - 1]!.toFixed(1)} | ${upstreamRequests} | ${extra.toFixed(1)} % | ${hedges} |`,
      );
    }
    const normal = percentile(runs[0]!.latencies, 0.5);
    const hedged = runs[1]!;
    const p99 = percentile(hedged.latencies, 0.99);
    const extra = ((hedged.upstreamRequests - REQUESTS) / REQUESTS) * 100;
    report.line(
      `\nWith hedging: p99 ${p99.toFixed(1)} ms is ${(p99 / normal).toFixed(1)} × the normal answer time (${normal.toFixed(1)} ms, ` +
        `the median without hedging; target at most 3 ×): ${p99 <= 3 * normal ? 'met' : 'NOT met'}. ` +
        `Extra upstream requests ${extra.toFixed(1)} % (target under 10 %): ${extra < 10 ? 'met' : 'NOT met'}.`,
    );
    report.save();
  } finally {
    upstreams.stop();
  }
}

if (process.argv[2] === 'upstreams') runUpstreams();
else
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
