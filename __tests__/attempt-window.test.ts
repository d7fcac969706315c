import { AttemptWindow, percentiles } from '../src/observability/attempt-window';

/** One attempt: when it ended, how long it took, and whether it succeeded (default: it did). */
type Sample = readonly [at: number, durationMs: number, ok?: boolean];

/** A 60 s window in 6 buckets of 10 s: coarser than the balancer's 1 s buckets, to pin the sliding with few samples. */
function windowWith(samples: readonly Sample[]): AttemptWindow {
  const window = new AttemptWindow(60_000, 6);
  for (const [at, durationMs, ok = true] of samples) window.record(durationMs, ok, at);
  return window;
}

/** 1, 2, … n ms, all ending at `at`. */
function ramp(n: number, at = 0): Array<[number, number]> {
  return Array.from({ length: n }, (_, i) => [at, i + 1]);
}

describe('latency percentiles of the attempts in the window', () => {
  it.each`
    case                              | samples                                                       | p50     | p95    | p99
    ${'one attempt'}                  | ${[[0, 42]]}                                                  | ${42}   | ${42}  | ${42}
    ${'equal durations read exactly'} | ${[[0, 7.5], [1, 7.5], [2, 7.5]]}                             | ${7.5}  | ${7.5} | ${7.5}
    ${'1..100 ms'}                    | ${ramp(100)}                                                  | ${50}   | ${95}  | ${99}
    ${'1..1000 ms'}                   | ${ramp(1000)}                                                 | ${500}  | ${950} | ${990}
    ${'a slow tail of 2 in 100'}      | ${[...ramp(98).map(([at]) => [at, 10]), [0, 900], [0, 1000]]} | ${10}   | ${10}  | ${900}
    ${'sub-millisecond'}              | ${[[0, 0.004], [0, 0.25], [0, 0.9]]}                          | ${0.25} | ${0.9} | ${0.9}
    ${'zero and negative durations'}  | ${[[0, 0], [0, -1]]}                                          | ${0}    | ${0}   | ${0}
  `(
    '$case: p50 $p50, p95 $p95, p99 $p99 (within 3 %)',
    ({ samples, p50, p95, p99 }: { case: string; samples: Sample[]; p50: number; p95: number; p99: number }) => {
      const { latency } = windowWith(samples).read(0);
      expect(Math.abs(latency.p50! - p50)).toBeLessThanOrEqual(p50 * 0.03 + 1e-9);
      expect(Math.abs(latency.p95! - p95)).toBeLessThanOrEqual(p95 * 0.03 + 1e-9);
      expect(Math.abs(latency.p99! - p99)).toBeLessThanOrEqual(p99 * 0.03 + 1e-9);
    },
  );

  it('has no percentiles before the first attempt', () => {
    expect(new AttemptWindow().read(5_000)).toEqual({ requests: 0, failures: 0, latency: { p50: null, p95: null, p99: null } });
  });

  it('reads a duration of an hour as about 36 minutes, the largest it tells apart', () => {
    const { latency } = windowWith([[0, 3_600_000]]).read(0);
    expect(latency.p50).toBeCloseTo(2 ** 31 / 1000, -3);
  });

  it('keeps every percentile within 3 % of the exact one over random durations', () => {
    let seed = 12345;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const durations = Array.from({ length: 5000 }, () => Math.exp(random() * 12 - 4)); // 0.02 ms .. 3 s
    const window = new AttemptWindow();
    for (const d of durations) window.record(d, true, 0);
    const sorted = [...durations].sort((a, b) => a - b);
    const exact = (q: number): number => sorted[Math.ceil(q * sorted.length) - 1]!;
    const { latency } = window.read(0);
    for (const [q, got] of [
      [0.5, latency.p50],
      [0.95, latency.p95],
      [0.99, latency.p99],
    ] as const) {
      // A microsecond of rounding on top of the bin's width.
      expect(Math.abs(got! - exact(q))).toBeLessThanOrEqual(exact(q) * 0.03 + 0.001);
    }
  });
});

describe('the sliding window', () => {
  it.each`
    case                                     | samples                               | now        | requests | failures | p50
    ${'counts what ended within the minute'} | ${[[0, 5], [30_000, 10, false]]}      | ${59_999}  | ${2}     | ${1}     | ${5}
    ${'drops a bucket once a minute passed'} | ${[[0, 5], [30_000, 10, false]]}      | ${60_000}  | ${1}     | ${1}     | ${10}
    ${'slides in 10 s steps'}                | ${[[9_999, 5], [10_000, 10]]}         | ${69_999}  | ${1}     | ${0}     | ${10}
    ${'forgets everything after a long gap'} | ${[[0, 5], [50_000, 10]]}             | ${500_000} | ${0}     | ${0}     | ${null}
    ${'reuses a ring slot after a lap'}      | ${[[0, 5], [60_000, 7], [61_000, 9]]} | ${61_000}  | ${2}     | ${0}     | ${7}
    ${'counts a late clock reading as now'}  | ${[[20_000, 5], [5_000, 6]]}          | ${20_000}  | ${2}     | ${0}     | ${5}
  `(
    '$case',
    ({
      samples,
      now,
      requests,
      failures,
      p50,
    }: {
      case: string;
      samples: Sample[];
      now: number;
      requests: number;
      failures: number;
      p50: number | null;
    }) => {
      const stats = windowWith(samples).read(now);
      expect(stats).toMatchObject({ requests, failures });
      if (p50 === null) expect(stats.latency.p50).toBeNull();
      else expect(stats.latency.p50).toBeCloseTo(p50, 1);
    },
  );

  it('forgets the slow attempts of a minute ago in its percentiles and extremes', () => {
    const window = windowWith([...ramp(50).map(([, d]): [number, number] => [0, d * 100]), [30_000, 2], [30_000, 2]]);
    expect(window.read(30_000).latency.p99).toBeCloseTo(5000, -2);
    expect(window.read(60_000).latency).toEqual({ p50: 2, p95: 2, p99: 2 });
  });

  it('forgets the fast attempts of a minute ago in its percentiles', () => {
    const old = Array.from({ length: 50 }, (): [number, number] => [0, 1]);
    const recent = Array.from({ length: 10 }, (_, i): [number, number] => [30_000, 10 + i]);
    const window = windowWith([...old, ...recent]);
    expect(window.read(30_000).latency.p50).toBeCloseTo(1, 1);
    const later = window.read(60_000);
    expect(later.requests).toBe(10);
    expect(later.latency.p50).toBeCloseTo(14, 0);
    // The top rank is the largest duration, exactly.
    expect(later.latency.p99).toBe(19);
  });

  it('reads the same however often it is read', () => {
    const window = windowWith(ramp(10, 1_000));
    const first = window.read(2_000);
    for (let i = 0; i < 100; i++) window.read(2_000 + i);
    expect(window.read(2_100)).toEqual(first);
  });
});

describe("the balancer's window of 60 one-second buckets", () => {
  it('slides in 1 s steps', () => {
    const window = new AttemptWindow();
    window.record(5, true, 999);
    window.record(10, true, 1_000);
    expect(window.read(59_999).requests).toBe(2);
    expect(window.read(60_000)).toMatchObject({ requests: 1, latency: { p50: 10 } });
    expect(window.read(60_999).requests).toBe(1);
    expect(window.read(61_000).requests).toBe(0);
  });

  /** Attempts per second and p99 in ms of each of the last 60 whole seconds, oldest first. */
  function perSecond(window: AttemptWindow, now: number): Array<[number, number | null]> {
    return window.history(now).map((second) => [second.count, percentiles(second).p99]);
  }

  it('tells each of the last 60 whole seconds apart, the one still filling left out', () => {
    const window = new AttemptWindow();
    // Second 10: three attempts of 1, 2 and 30 ms; second 12: one of 4 ms; second 70: filling.
    for (const d of [1, 2, 30]) window.record(d, true, 10_500);
    window.record(4, false, 12_000);
    window.record(8, true, 70_000);
    const seconds = perSecond(window, 70_500);
    expect(seconds).toHaveLength(60);
    // The oldest whole second is 10 (10..70 s), the newest 69.
    expect(seconds[0]).toEqual([3, 30]);
    expect(seconds[1]).toEqual([0, null]);
    expect(seconds[2]).toEqual([1, 4]);
    expect(seconds.slice(3).every(([n, p99]) => n === 0 && p99 === null)).toBe(true);
    // The live window (seconds 11..70) no longer counts second 10, while its history still shows it.
    expect(window.read(70_500)).toMatchObject({ requests: 2, failures: 1 });
  });

  it('shows the second that just ended once the clock enters the next', () => {
    const window = new AttemptWindow();
    window.record(7, true, 5_000);
    expect(perSecond(window, 5_999).at(-1)).toEqual([0, null]);
    expect(perSecond(window, 6_000).at(-1)).toEqual([1, 7]);
    expect(perSecond(window, 65_999)[0]).toEqual([1, 7]);
    expect(perSecond(window, 66_000)[0]).toEqual([0, null]);
  });

  it('forgets the history after a long gap, and counts afresh after it', () => {
    const window = new AttemptWindow();
    for (let t = 0; t < 120_000; t += 250) window.record(3, true, t);
    expect(perSecond(window, 120_000).every(([n]) => n === 4)).toBe(true);
    window.record(9, true, 1_000_000);
    const seconds = perSecond(window, 1_001_000);
    expect(seconds.at(-1)).toEqual([1, 9]);
    expect(seconds.slice(0, -1).every(([n]) => n === 0)).toBe(true);
    expect(window.read(1_001_000)).toMatchObject({ requests: 1, latency: { p50: 9, p99: 9 } });
  });

  it('has an empty history before the first attempt', () => {
    expect(perSecond(new AttemptWindow(), 3_000)).toEqual(Array.from({ length: 60 }, () => [0, null]));
  });
});
