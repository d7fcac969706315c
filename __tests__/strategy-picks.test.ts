import type { Request } from 'express';
import { consistentHash } from '../src/balancing/strategies/consistent-hash';
import { strategyFactory } from '../src/balancing/strategies';
import { leastConnections } from '../src/balancing/strategies/least-connections';
import { peakEwma } from '../src/balancing/strategies/peak-ewma';
import { powerOfTwo } from '../src/balancing/strategies/power-of-two';
import { random } from '../src/balancing/strategies/random';
import { roundRobin } from '../src/balancing/strategies/round-robin';
import type { Strategy } from '../src/balancing/strategies/types';
import type { TargetState } from '../src/balancing/target';
import { scriptedRandom, seededRandom } from './helpers/hold';
import { context, letter, makePool } from './helpers/targets';

const req = {} as Request;

function order(strategy: Strategy<TargetState>, targets: readonly TargetState[], picks: number): string {
  const out: string[] = [];
  for (let i = 0; i < picks; i++) out.push(letter(strategy.pick(targets, req)));
  return out.join(' ');
}

function shares(strategy: Strategy<TargetState>, targets: readonly TargetState[], picks: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < picks; i++) {
    const name = letter(strategy.pick(targets, req));
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

describe('round-robin picks', () => {
  it.each([
    { weights: [1, 1, 1], expected: 'a b c a b c' },
    { weights: [5, 1, 1], expected: 'a a b a c a a a a b a c a a' },
    { weights: [3, 1], expected: 'a a b a a a b a' },
    { weights: [1], expected: 'a a a' },
  ])('weights $weights give $expected', ({ weights, expected }) => {
    const pool = makePool(weights.map((weight) => ({ weight })));
    expect(order(roundRobin(), pool.available(), expected.split(' ').length)).toBe(expected);
  });
});

describe('least-connections picks', () => {
  it.each([
    { setup: [{}, {}, {}], expected: 'a b c a b c', why: 'idle targets take turns' },
    { setup: [{ inFlight: 2 }, {}, { inFlight: 1 }], expected: 'b b b', why: 'the least busy wins' },
    { setup: [{ inFlight: 1 }, {}, {}], expected: 'b c b c', why: 'ties rotate among the least busy only' },
    { setup: [{ weight: 5 }, {}, {}], expected: 'a a b a c a a', why: 'idle ties follow smooth weighted round robin' },
    { setup: [{ weight: 2, inFlight: 2 }, { inFlight: 1 }], expected: 'a b a', why: 'inFlight/weight 1 vs 1 is a tie' },
    { setup: [{ weight: 2, inFlight: 3 }, { inFlight: 1 }], expected: 'b b', why: '1.5 per weight loses to 1' },
    { setup: [{ weight: 4, inFlight: 3 }, { inFlight: 1 }], expected: 'a a', why: '0.75 per weight beats 1' },
    { setup: [{ inFlight: 1 }, { weight: 2, inFlight: 1 }], expected: 'b b', why: '1 per weight loses to 0.5, weight on either side' },
  ])('$why: $expected', ({ setup, expected }) => {
    const pool = makePool(setup);
    expect(order(leastConnections(), pool.available(), expected.split(' ').length)).toBe(expected);
  });
});

describe('random picks', () => {
  it.each([{ draws: [0, 0.24, 0.25, 0.49, 0.5, 0.99], expected: 'a a b b c c' }])(
    'weights 1, 1, 2 map draws $draws to $expected',
    ({ draws, expected }) => {
      const pool = makePool([{ weight: 1 }, { weight: 1 }, { weight: 2 }]);
      expect(order(random(context({ random: scriptedRandom(draws) })), pool.available(), draws.length)).toBe(expected);
    },
  );

  it('gives a draw that rounding leaves past the last weight to the last target', () => {
    // (1 - 2^-53) × 0.8 less 0.1, 0.1 and 0.6 leaves exactly 0: no target took the draw.
    const pool = makePool([{ weight: 0.1 }, { weight: 0.1 }, { weight: 0.6 }]);
    expect(order(random(context({ random: scriptedRandom([1 - 2 ** -53]) })), pool.available(), 1)).toBe('c');
  });

  it('draws in proportion to weight (3:1 over 20 000 seeded draws)', () => {
    const pool = makePool([{ weight: 3 }, { weight: 1 }]);
    const counts = shares(random(context({ random: seededRandom(7) })), pool.available(), 20_000);
    expect(counts.a! / 20_000).toBeCloseTo(0.75, 1);
  });
});

describe('power-of-two picks', () => {
  it.each([
    // Two draws per pick: the first over every target, the second over the others.
    { draws: [0.1, 0.1], expected: 'a', why: 'a (0 in flight) against b (5)' },
    { draws: [0.5, 0.9], expected: 'c', why: 'b (5) against c (1)' },
    { draws: [0.9, 0.1], expected: 'a', why: 'c (1) against a (0)' },
    { draws: [0.5, 0.1], expected: 'a', why: 'b (5) against a (0): the second may win' },
  ])('$why picks $expected', ({ draws, expected }) => {
    const pool = makePool([{ inFlight: 0 }, { inFlight: 5 }, { inFlight: 1 }]);
    expect(order(powerOfTwo(context({ random: scriptedRandom(draws) })), pool.available(), 1)).toBe(expected);
  });

  it.each([
    // Ties go to the first drawn, so idle targets show the draws themselves.
    { setup: [{}, {}], draws: [0.5, 0], expected: 'b', why: 'a draw on the border of a and b falls to b: a holds [0, 1) of 2' },
    { setup: [{ inFlight: 5 }, {}, {}], draws: [0.1, 0.4], expected: 'b', why: 'the second draw is over the weight of the others only' },
    { setup: [{ inFlight: 5 }, {}, {}], draws: [0.1, 0.6], expected: 'c', why: 'the second draw reaches the last of the others' },
    {
      // (1 - 2^-53) × 0.8 less 0.1, 0.1 and 0.6 leaves exactly 0: no target took the draw.
      setup: [{ weight: 0.1 }, { weight: 0.1 }, { weight: 0.6 }],
      draws: [1 - 2 ** -53, 0],
      expected: 'c',
      why: 'a draw that rounding leaves past the last weight falls to the last',
    },
  ])('$why', ({ setup, draws, expected }) => {
    const pool = makePool(setup);
    expect(order(powerOfTwo(context({ random: scriptedRandom(draws) })), pool.available(), 1)).toBe(expected);
  });

  it('never compares a target with itself: of two, the idle one always wins', () => {
    const pool = makePool([{ inFlight: 1 }, { inFlight: 0 }]);
    const counts = shares(powerOfTwo(context({ random: seededRandom(1) })), pool.available(), 500);
    expect(counts).toEqual({ b: 500 });
  });

  it('keeps the first drawn on a tie, so idle targets are drawn by weight (3:1)', () => {
    const pool = makePool([{ weight: 3 }, { weight: 1 }]);
    const counts = shares(powerOfTwo(context({ random: seededRandom(3) })), pool.available(), 20_000);
    expect(counts.a! / 20_000).toBeCloseTo(0.75, 1);
  });

  it('compares in-flight per weight: 3 on weight 4 beats 1 on weight 1', () => {
    const pool = makePool([
      { weight: 4, inFlight: 3 },
      { weight: 1, inFlight: 1 },
    ]);
    expect(shares(powerOfTwo(context({ random: seededRandom(5) })), pool.available(), 200)).toEqual({ a: 200 });
  });

  it('returns the only target when there is one', () => {
    const pool = makePool([{ inFlight: 9 }]);
    expect(order(powerOfTwo(context({ random: scriptedRandom([]) })), pool.available(), 2)).toBe('a a');
  });
});

describe('peak-ewma picks', () => {
  it('takes a slow response at once, then decays towards faster ones over the window', () => {
    const [a] = makePool([{}], 1_000).targets;
    a!.observeLatency(10, 0);
    a!.observeLatency(100, 1); // peak: replaces the estimate
    expect(a!.latencyAt(1)).toBe(100);
    expect(a!.latencyAt(1_001)).toBeCloseTo(100 * Math.exp(-1), 6);
    a!.observeLatency(10, 1_001); // below the decayed 36.8: blended by 1 - e^-1
    expect(a!.latencyAt(1_001)).toBeCloseTo(100 * Math.exp(-1) + 10 * (1 - Math.exp(-1)), 6);
  });

  it.each<{ setup: Array<{ ms: number | undefined; inFlight: number; weight?: number }>; expected: string; why: string }>([
    {
      setup: [
        { ms: 10, inFlight: 0 },
        { ms: 100, inFlight: 0 },
      ],
      expected: 'a',
      why: 'the faster target',
    },
    {
      setup: [
        { ms: 10, inFlight: 4 },
        { ms: 20, inFlight: 0 },
      ],
      expected: 'b',
      why: '10 ms × 5 loses to 20 ms × 1',
    },
    {
      setup: [
        { ms: 10, inFlight: 1 },
        { ms: 30, inFlight: 0 },
      ],
      expected: 'a',
      why: '10 ms × 2 beats 30 ms × 1',
    },
    {
      setup: [
        { ms: undefined, inFlight: 1 },
        { ms: 500, inFlight: 3 },
      ],
      expected: 'b',
      why: 'an unmeasured busy target is penalised',
    },
    {
      setup: [
        { ms: undefined, inFlight: 2 },
        { ms: undefined, inFlight: 1 },
      ],
      expected: 'b',
      why: 'of two unmeasured busy targets, the less busy one',
    },
    {
      setup: [
        { ms: undefined, inFlight: 0 },
        { ms: 1, inFlight: 0 },
      ],
      expected: 'a',
      why: 'an unmeasured idle target is tried',
    },
    {
      setup: [
        { ms: 10, inFlight: 0, weight: 3 },
        { ms: 5, inFlight: 0 },
      ],
      expected: 'a',
      why: 'cost per weight: 10 ms / 3 beats 5 ms / 1',
    },
  ])('$why: $expected', ({ setup, expected }) => {
    const pool = makePool(setup.map(({ inFlight, weight }) => ({ inFlight, weight })));
    pool.targets.forEach((target, i) => {
      const ms = setup[i]!.ms;
      if (ms !== undefined) target.observeLatency(ms, 0);
    });
    const strategy = peakEwma(context({ random: seededRandom(11), now: () => 0 }));
    expect(order(strategy, pool.available(), 20)).toBe(Array(20).fill(expected).join(' '));
  });

  it('sends nothing to a target that turned slow, and some again once its spike has decayed', () => {
    let now = 0;
    const pool = makePool([{}, {}, {}], 1_000);
    const [a, b, c] = pool.targets;
    for (const target of [a!, b!, c!]) target.observeLatency(5, 0);
    b!.observeLatency(500, 0);
    const strategy = peakEwma(context({ random: seededRandom(2), now: () => now }));
    expect(shares(strategy, pool.available(), 300).b).toBeUndefined();
    // a and c keep answering in 5 ms while b gets nothing: b's estimate decays towards 0
    // (500 × e^-10 ≈ 0.02 ms after ten windows) and it is tried again.
    for (now = 1_000; now <= 10_000; now += 1_000) {
      a!.observeLatency(5, now);
      c!.observeLatency(5, now);
    }
    expect(shares(strategy, pool.available(), 300).b).toBeGreaterThan(50);
  });
});

describe('consistent-hash picks', () => {
  const keys = Array.from({ length: 1_000 }, (_, i) => `user-${i}`);

  function mapping(urls: readonly string[], weights: readonly number[] = []): Map<string, string> {
    const pool = makePool(urls.map((_, i) => ({ weight: weights[i] ?? 1 })));
    let key = '';
    const strategy = consistentHash(context({ hashKey: () => key }));
    const result = new Map<string, string>();
    for (key of keys) result.set(key, letter(strategy.pick(pool.available(), req)));
    return result;
  }

  function moved(before: Map<string, string>, after: Map<string, string>): string[] {
    return keys.filter((key) => before.get(key) !== after.get(key));
  }

  it('maps each of 1 000 keys to the same target every time', () => {
    const pool = makePool([{}, {}, {}, {}]);
    let key = '';
    const strategy = consistentHash(context({ hashKey: () => key }));
    const first = new Map<string, string>();
    for (key of keys) first.set(key, letter(strategy.pick(pool.available(), req)));
    for (let round = 0; round < 3; round++) {
      for (key of keys) expect(letter(strategy.pick(pool.available(), req))).toBe(first.get(key));
    }
  });

  it('maps keys the same way in two separate instances (no shared state)', () => {
    expect(mapping(['a', 'b', 'c', 'd'])).toEqual(mapping(['a', 'b', 'c', 'd']));
  });

  it('spreads keys evenly, and by weight', () => {
    const even = [...mapping(['a', 'b', 'c', 'd']).values()];
    for (const name of 'abcd') expect(even.filter((n) => n === name).length).toBeGreaterThan(200);
    const weighted = [...mapping(['a', 'b'], [3, 1]).values()];
    expect(weighted.filter((n) => n === 'a').length / 1_000).toBeCloseTo(0.75, 1);
  });

  it('moves only the new target share of keys (<= 1/N + 10 %) when one is added, all to it', () => {
    const before = mapping(['a', 'b', 'c', 'd']);
    const after = mapping(['a', 'b', 'c', 'd', 'e']);
    const keysMoved = moved(before, after);
    expect(keysMoved.length).toBeLessThanOrEqual(1_000 * (1 / 5 + 0.1));
    expect(keysMoved.every((key) => after.get(key) === 'e')).toBe(true);
  });

  it('moves only the removed target keys (<= 1/N + 10 %) when one is removed', () => {
    const before = mapping(['a', 'b', 'c', 'd', 'e']);
    const pool = makePool([{}, {}, {}, {}, {}]);
    let key = '';
    const strategy = consistentHash(context({ hashKey: () => key }));
    void pool.remove('http://c:1');
    const keysMoved: string[] = [];
    for (key of keys) {
      if (letter(strategy.pick(pool.available(), req)) !== before.get(key)) keysMoved.push(key);
    }
    expect(keysMoved.length).toBeLessThanOrEqual(1_000 * (1 / 5 + 0.1));
    expect(keysMoved.every((k) => before.get(k) === 'c')).toBe(true);
  });

  // Every process, on any version of this package, must send a key to the same target
  // (a rolling upgrade runs two at once): the hash and the scores are part of the contract.
  it.each([
    [[1, 1, 1, 1], 'c b c c d a b d c c b d'],
    [[3, 1, 0.5], 'c b a a b a a a b a a a'],
  ])('sends a fixed set of keys where every other version does (weights %j)', (weights, expected) => {
    const pool = makePool(weights.map((weight) => ({ weight })));
    let key = '';
    const strategy = consistentHash(context({ hashKey: () => key }));
    const fixed = [
      'user-0',
      'user-1',
      'user-2',
      'user-3',
      'user-4',
      'user-5',
      'user-6',
      'user-7',
      '203.0.113.7',
      '2001:db8::1',
      'Zoë',
      '用户-42',
    ];
    const picked = fixed.map((k) => {
      key = k;
      return letter(strategy.pick(pool.available(), req));
    });
    expect(picked.join(' ')).toBe(expected);
  });

  it("finds a target for a key equal to the target's URL, whose hash cancels the URL's", () => {
    const pool = makePool([{}]);
    expect(order(consistentHash(context({ hashKey: () => 'http://a:1' })), pool.available(), 1)).toBe('a');
  });

  it('balances requests without a key by round robin', () => {
    const pool = makePool([{}, {}, {}]);
    expect(order(consistentHash(context({ hashKey: () => undefined })), pool.available(), 6)).toBe('a b c a b c');
    expect(order(consistentHash(context({ hashKey: () => '' })), pool.available(), 3)).toBe('a b c');
  });
});

describe('custom strategy picks', () => {
  function custom(pick: Strategy<TargetState>['pick']): Strategy<TargetState> {
    return strategyFactory({ kind: 'custom', strategy: { pick } })(context());
  }

  it('refuses a pick that is not one of the targets it was given (a copy, say) as a bug in the strategy', () => {
    const pool = makePool([{}, {}]);
    const copy = { ...pool.available()[0]! } as TargetState;

    expect(() => custom(() => copy).pick(pool.available(), req)).toThrow(
      new TypeError('express-load-balance: the custom strategy returned a target that is not one of those it was given'),
    );
  });

  it('passes on a pick of one of the targets, or of none', () => {
    const pool = makePool([{}, {}]);

    expect(letter(custom((targets) => targets[1]).pick(pool.available(), req))).toBe('b');
    expect(custom(() => undefined).pick(pool.available(), req)).toBeUndefined();
  });
});
