// `npm run bench:pick`: how many picks per second each built-in strategy makes over
// 10 targets. The pick runs once per request, so it must stay far below the cost of
// forwarding one (tens of microseconds): round-robin under 5 M picks/s, or another
// strategy under 1 M, is flagged.
import type { Request } from 'express';
import { parseTarget } from '../src/options/targets';
import { systemClock } from '../src/clock';
import { Pool } from '../src/balancing/pool';
import { STRATEGY_NAMES, strategyFactory } from '../src/balancing/strategies';

const TARGETS = 10;
/** Picks per timed iteration: one pick is too short for the timer to see. */
const BATCH = 1_000;
const FLOOR: Readonly<Record<string, number>> = { 'round-robin': 5e6 };
const DEFAULT_FLOOR = 1e6;

// Enough of a request for strategies that look at it (hashing on the path or the peer).
const request = {
  method: 'GET',
  url: '/users/42',
  path: '/users/42',
  headers: { host: 'bench.test' },
  ip: '127.0.0.1',
  socket: { remoteAddress: '127.0.0.1' },
} as unknown as Request;

async function main(): Promise<void> {
  // tinybench is published as an ES module only.
  const { Bench } = await import('tinybench');
  const bench = new Bench({ time: 1_000, warmupTime: 200 });
  let sink = 0;
  for (const name of STRATEGY_NAMES) {
    const specs = Array.from({ length: TARGETS }, (_, i) => parseTarget(`http://127.0.0.1:${3000 + i}`, `targets[${i}]`));
    const targets = new Pool(specs, { ewmaWindow: 10_000, idSecret: 'bench', clock: systemClock, slowStart: 0 }).available();
    const strategy = strategyFactory(name)({ random: Math.random, clock: systemClock, hashKey: (req) => req.ip });
    bench.add(name, () => {
      for (let i = 0; i < BATCH; i++) sink += strategy.pick(targets, request)?.port ?? 0;
    });
  }
  await bench.run();

  const rows: string[] = ['| strategy | picks/s (10 targets) | ± % | floor | |', '|---|---:|---:|---:|---|'];
  const flagged: string[] = [];
  for (const task of bench.tasks) {
    const { result } = task;
    if (result.state !== 'completed') {
      flagged.push(`${task.name}: ${result.state === 'errored' ? result.error.message : result.state}`);
      continue;
    }
    const opsPerSecond = (BATCH * 1000) / result.latency.mean;
    const floor = FLOOR[task.name] ?? DEFAULT_FLOOR;
    const slow = opsPerSecond < floor;
    if (slow) flagged.push(`${task.name}: ${(opsPerSecond / 1e6).toFixed(1)} M picks/s, below ${floor / 1e6} M`);
    rows.push(
      `| ${task.name} | ${(opsPerSecond / 1e6).toFixed(1)} M | ${result.latency.rme.toFixed(1)} | ${floor / 1e6} M | ${slow ? '⚠ slow' : 'ok'} |`,
    );
  }
  console.log(rows.join('\n'));
  if (flagged.length > 0) console.log(`\nFlagged:\n${flagged.map((line) => `- ${line}`).join('\n')}`);
  // Keeps the picks observable, so the optimiser cannot drop the loop.
  if (sink === -1) console.log(sink);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
