import { getHeapStatistics } from 'node:v8';
import type { Request } from 'express';
import { consistentHash } from '../src/balancing/strategies/consistent-hash';
import { leastConnections } from '../src/balancing/strategies/least-connections';
import { peakEwma } from '../src/balancing/strategies/peak-ewma';
import { powerOfTwo } from '../src/balancing/strategies/power-of-two';
import { random } from '../src/balancing/strategies/random';
import { roundRobin } from '../src/balancing/strategies/round-robin';
import type { StrategyFactory } from '../src/balancing/strategies/types';
import { context, makePool } from './helpers/targets';

const PICKS = 20_000;
/** Well under one small object per pick (an empty array alone is 16+ bytes). */
const LIMIT_BYTES = 64 * 1024;

/**
 * Heap growth over PICKS picks, attempted a few times. A pick that allocates grows the
 * heap by PICKS × its size unless a collection runs during the loop (the heap then
 * shrinks, so the sample is discarded); an allocation-free pick grows it by ~0.
 */
function heapGrowth(pick: () => unknown): number[] {
  for (let i = 0; i < PICKS; i++) pick(); // let the JIT settle first
  const samples: number[] = [];
  for (let attempt = 0; attempt < 8; attempt++) {
    const before = getHeapStatistics().used_heap_size;
    for (let i = 0; i < PICKS; i++) pick();
    const grown = getHeapStatistics().used_heap_size - before;
    if (grown >= 0) samples.push(grown);
  }
  return samples;
}

/**
 * V8's Math.random (and any function returning a computed double) hands back a new
 * 16-byte heap number per call: measured, and no strategy can avoid it. Feeding numbers
 * that already exist leaves only the strategy's own allocations to be counted.
 */
function preMadeRandom(): () => number {
  // A non-number element keeps the array's elements boxed, so reading one allocates nothing.
  const values: unknown[] = [0.13, 0.42, 0.77, 0.95, 0.31, 0.68, 'boxed'];
  let i = 0;
  return () => {
    i = i === 5 ? 0 : i + 1;
    return values[i] as number;
  };
}

describe('a pick allocates nothing', () => {
  const req = { ip: '10.1.2.3' } as Request;
  const cases: Array<[string, StrategyFactory]> = [
    ['round-robin', roundRobin],
    ['least-connections', leastConnections],
    ['random', random],
    ['power-of-two', powerOfTwo],
    ['peak-ewma', peakEwma],
    ['consistent-hash', consistentHash],
  ];

  it.each(cases)('%s', (_name, factory) => {
    const pool = makePool([{ weight: 3 }, { inFlight: 2 }, { weight: 2, inFlight: 1 }, {}]);
    pool.targets.forEach((target, i) => target.observeLatency(5 + i, 0));
    const strategy = factory(context({ random: preMadeRandom(), now: () => 1, hashKey: (r) => r.ip }));
    const targets = pool.available();
    const samples = heapGrowth(() => strategy.pick(targets, req));
    expect(samples.length).toBeGreaterThan(0);
    // The median: the first attempts may still include a one-off JIT recompilation.
    const median = samples.sort((x, y) => x - y)[Math.floor(samples.length / 2)]!;
    expect(median).toBeLessThan(LIMIT_BYTES);
  });
});
