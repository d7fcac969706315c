// The bench's knobs, read once from the environment.

export interface Settings {
  /** Seconds per measured run. */
  readonly duration: number;
  /** Times every (scenario, contender) pair is measured, interleaved. */
  readonly rounds: number;
  /** Seconds of unmeasured load right before each measured run, so the contender is warm (JIT, heap sizes) when its window opens. */
  readonly warmup: number;
  /** Contender ids to run (direct, http-proxy-middleware-keepalive, express-undici and express-node-http are always kept: the ratios need them). */
  readonly only: ReadonlySet<string> | undefined;
  /** Scenario ids to run. */
  readonly scenarios: ReadonlySet<string> | undefined;
  /**
   * Fixed request rate (req/s) instead of as fast as possible: every balancer then does
   * the same work per second, so CPU per request compares without the batching a
   * saturated event loop gets.
   */
  readonly rate: number | undefined;
  /** BENCH_CANDIDATE: a built index.js of express-load-balance, measured beside the current build. */
  readonly candidate: string | undefined;
  /** Contender ids to run under `node --cpu-prof`, profiles written to bench/results/profiles. */
  readonly profile: ReadonlySet<string>;
}

function positive(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new TypeError(`${name} must be a positive number, got ${JSON.stringify(raw)}`);
  return value;
}

function list(name: string): ReadonlySet<string> | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  return new Set(
    raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  );
}

export function readSettings(): Settings {
  return {
    duration: positive('BENCH_DURATION', 5),
    rounds: Math.round(positive('BENCH_ROUNDS', 2)),
    warmup: positive('BENCH_WARMUP', 1),
    candidate: process.env.BENCH_CANDIDATE || undefined,
    rate: process.env.BENCH_RATE ? positive('BENCH_RATE', 1) : undefined,
    only: list('BENCH_ONLY'),
    scenarios: list('BENCH_SCENARIOS'),
    profile: list('BENCH_PROFILE') ?? new Set(),
  };
}
