// `npm run bench:mirror`: what a mirror that hangs, refuses connections or answers slowly
// costs the balancer's clients. For each case, a balancer (its own process) forwards a
// bounded load of small POSTs to one upstream, every request mirrored (sample 1), and
// the clients' latency and the balancer's memory are measured. Cases run interleaved,
// ROUNDS times, so a busy machine's drift spreads over all of them. Everything listens
// on 127.0.0.1 and stops at the end.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { MirrorBenchMessage, MirrorBenchRequest } from './mirror-balancer';
import { SideReport } from './side-report';

const REQUESTS = Number(process.env.MIRROR_BENCH_REQUESTS ?? 4_000);
const WARMUP = 500;
const CONCURRENCY = 32;
const ROUNDS = Number(process.env.MIRROR_BENCH_ROUNDS ?? 2);
const SLOW_MS = 200;
const BODY = Buffer.alloc(1024, 0x61);
/** tsx's require hook (see processes.ts: lighter than its loader thread, so RSS is the balancer's). */
const TS_HOOK = require.resolve('tsx/cjs');

interface Server {
  readonly url: string;
  close(): Promise<void>;
}

async function listen(handler: http.RequestListener): Promise<Server> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Reads the body, then answers after `delayMs`. */
function answering(delayMs: number): http.RequestListener {
  return (req, res) => {
    req.resume();
    req.on('end', () => {
      const answer = (): void => void res.end('ok');
      if (delayMs === 0) answer();
      else setTimeout(answer, delayMs);
    });
  };
}

/** A URL that refuses connections: listened on, then closed. */
async function refusingUrl(): Promise<string> {
  const server = await listen(() => undefined);
  await server.close();
  return server.url;
}

function request(agent: http.Agent, port: number): Promise<{ ms: number; ok: boolean }> {
  const start = performance.now();
  return new Promise((resolve) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: 'POST', path: '/bench', agent, headers: { 'content-length': BODY.length } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: performance.now() - start, ok: res.statusCode === 200 }));
      },
    );
    req.on('error', () => resolve({ ms: performance.now() - start, ok: false }));
    req.end(BODY);
  });
}

/** `count` requests, `CONCURRENCY` at a time; their latencies in ms and how many failed. */
async function load(port: number, count: number): Promise<{ latencies: number[]; failed: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let failed = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      const { ms, ok } = await request(agent, port);
      latencies.push(ms);
      if (!ok) failed++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  agent.destroy();
  return { latencies, failed };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function ask(child: ChildProcess, message: MirrorBenchRequest): Promise<MirrorBenchMessage> {
  const answer = once(child, 'message') as Promise<[MirrorBenchMessage]>;
  child.send(message);
  return answer.then(([reply]) => reply);
}

interface Figures {
  p50: number;
  p99: number;
  failed: number;
  rssAfterWarmupMb: number;
  /** RSS and heap growth over the first and the second half of the load, after a GC each. */
  rssGrowthMb: [number, number];
  heapGrowthMb: [number, number];
  mirror: string;
}

async function runCase(options: object): Promise<Figures> {
  const child = fork(path.join(__dirname, 'mirror-balancer.ts'), [JSON.stringify(options)], {
    execArgv: ['--require', TS_HOOK, '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const [ready] = (await once(child, 'message')) as [MirrorBenchMessage];
    if (ready.type !== 'ready') throw new Error('the balancer did not start');
    await load(ready.port, WARMUP);
    const before = await ask(child, { type: 'report' });
    const first = await load(ready.port, REQUESTS / 2);
    const middle = await ask(child, { type: 'report' });
    const second = await load(ready.port, REQUESTS / 2);
    const after = await ask(child, { type: 'report' });
    if (before.type !== 'report' || middle.type !== 'report' || after.type !== 'report') {
      throw new Error('unexpected answer from the balancer');
    }
    const latencies = [...first.latencies, ...second.latencies].sort((a, b) => a - b);
    const m = after.mirror;
    const mb = (bytes: number): number => bytes / 2 ** 20;
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      failed: first.failed + second.failed,
      rssAfterWarmupMb: mb(before.rss),
      rssGrowthMb: [mb(middle.rss - before.rss), mb(after.rss - middle.rss)],
      heapGrowthMb: [mb(middle.heapUsed - before.heapUsed), mb(after.heapUsed - middle.heapUsed)],
      mirror: m === undefined ? '-' : `${m.sent} sent, ${m.skipped} skipped, ${m.failed} failed, ${m.inFlight} open`,
    };
  } finally {
    if (child.connected) child.send({ type: 'stop' } satisfies MirrorBenchRequest);
    if (child.exitCode === null) await once(child, 'exit');
  }
}

async function main(): Promise<void> {
  const upstream = await listen(answering(0));
  const slow = await listen(answering(SLOW_MS));
  const hanging = await listen(() => undefined);
  const refused = await refusingUrl();
  const targets = [upstream.url];
  const cases: Array<[string, object]> = [
    ['no mirror', { targets }],
    ['hanging mirror', { targets, mirror: { targets: [hanging.url] } }],
    ['refusing mirror', { targets, mirror: { targets: [refused] } }],
    [`slow mirror (${SLOW_MS} ms)`, { targets, mirror: { targets: [slow.url] } }],
  ];
  const results = new Map<string, Figures[]>(cases.map(([name]) => [name, []]));
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, options] of cases) {
        const figures = await runCase(options);
        results.get(name)!.push(figures);
        console.error(`round ${round}: ${name} done`);
      }
    }
  } finally {
    await Promise.all([upstream.close(), slow.close(), hanging.close()]);
  }
  const f = (n: number): string => n.toFixed(2);
  const report = new SideReport('mirror');
  report.line(`${REQUESTS} POSTs of 1 KiB per case and round (after ${WARMUP} warm-up), ${CONCURRENCY} at a time, ${ROUNDS} rounds`);
  report.line('Growth: first half, then second half of the load, after a GC each; rounds separated by " ; "');
  report.line(
    '| case | client p50 ms | client p99 ms | failed | RSS after warm-up MB | RSS growth MB | heap growth MB | mirror (last round) |',
  );
  report.line('|---|---|---|---|---|---|---|---|');
  for (const [name] of cases) {
    const runs = results.get(name)!;
    const each = (pick: (r: Figures) => number): string => runs.map((r) => f(pick(r))).join(' ; ');
    const halves = (pick: (r: Figures) => [number, number]): string => runs.map((r) => pick(r).map(f).join(', ')).join(' ; ');
    const last = runs[runs.length - 1]!;
    report.line(
      `| ${name} | ${each((r) => r.p50)} | ${each((r) => r.p99)} | ${runs.map((r) => r.failed).join(' ; ')} | ${each((r) => r.rssAfterWarmupMb)} | ${halves((r) => r.rssGrowthMb)} | ${halves((r) => r.heapGrowthMb)} | ${last.mirror} |`,
    );
  }
  report.save();
}

void main();
