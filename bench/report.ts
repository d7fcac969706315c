// Turns the measurements into the Markdown report: a CPU summary, one table per
// scenario with ratios taken within each round, and the load generator's self-check.
import type { Contender } from './contender';
import type { Measurement } from './measure';
import type { Scenario } from './scenarios';

export const DIRECT = 'direct';
export const PEER = 'http-proxy-middleware-keepalive';
/** The floor the library's CPU goal is set against: Express 5 with a bare undici Pool. */
export const FLOOR = 'express-undici';
/**
 * Express 5 with a bare node:http client (E): the framework and the HTTP client the
 * library is built on, nothing else. What the library costs above E is its own work.
 */
export const BASE = 'express-node-http';

/** Little's law: a run's mean latency must match connections / throughput within this. */
const LITTLE_TOLERANCE = 0.1;

export interface ReportInput {
  readonly date: Date;
  readonly scenarios: readonly Scenario[];
  readonly contenders: readonly Pick<Contender, 'id' | 'label'>[];
  readonly measurements: readonly Measurement[];
  readonly machine: readonly string[];
  readonly settings: string;
  /** The fixed request rate, if any: Little's law then says nothing about autocannon (connections sit idle). */
  readonly rate: number | undefined;
  readonly notes: readonly string[];
}

function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function defined<T>(values: readonly (T | undefined)[]): T[] {
  return values.filter((value): value is T => value !== undefined);
}

const rps = (m: Measurement): number => m.load.responses / m.load.duration;

function cpuPerRequest(m: Measurement): number | undefined {
  if (m.cpuSeconds === undefined || m.load.responses === 0) return undefined;
  return (m.cpuSeconds * 1e6) / m.load.responses;
}

/** Mean latency expected from Little's law (L = λW, so W = connections / throughput), in ms. */
function littleGap(m: Measurement): number | undefined {
  if (m.load.responses === 0) return undefined;
  const expected = (m.load.connections / rps(m)) * 1000;
  return (m.load.latencyMean - expected) / expected;
}

/** Ratios of one figure to the same figure of `baseline`, taken within each round. */
function roundRatios(
  runs: readonly Measurement[],
  all: readonly Measurement[],
  baseline: string,
  figure: (m: Measurement) => number | undefined,
): number[] {
  return defined(
    runs.map((m) => {
      const base = all.find((b) => b.round === m.round && b.scenario === m.scenario && b.contender === baseline);
      const value = figure(m);
      const reference = base === undefined ? undefined : figure(base);
      return value === undefined || reference === undefined || reference === 0 ? undefined : value / reference;
    }),
  );
}

function ratio(
  runs: readonly Measurement[],
  all: readonly Measurement[],
  baseline: string,
  figure: (m: Measurement) => number | undefined,
): number | undefined {
  return median(roundRatios(runs, all, baseline, figure));
}

/** The median ratio and, over several rounds, its range: how far to trust it. */
function ratioWithRange(
  runs: readonly Measurement[],
  all: readonly Measurement[],
  baseline: string,
  figure: (m: Measurement) => number | undefined,
): string {
  const ratios = roundRatios(runs, all, baseline, figure);
  const middle = fmt.ratio(median(ratios));
  if (ratios.length < 2) return middle;
  return `${middle} (${fmt.ratio(Math.min(...ratios))}–${fmt.ratio(Math.max(...ratios))})`;
}

const fmt = {
  int: (v: number | undefined): string => (v === undefined ? '–' : Math.round(v).toLocaleString('en-US')),
  ms: (v: number | undefined): string => (v === undefined ? '–' : v < 10 ? v.toFixed(1) : Math.round(v).toString()),
  ratio: (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(2)),
  mb: (v: number | undefined): string => (v === undefined ? '–' : (v / 2 ** 20).toFixed(0)),
};

function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ];
}

export function renderReport(input: ReportInput): string {
  const { measurements: all } = input;
  const runsOf = (scenario: string, contender: string): Measurement[] =>
    all.filter((m) => m.scenario === scenario && m.contender === contender);
  const measured = input.contenders.filter((c) => all.some((m) => m.contender === c.id));
  const lines: string[] = [`# express-load-balance benchmark, ${input.date.toISOString().slice(0, 16).replace('T', ' ')} UTC`, ''];

  lines.push(
    '## Balancer CPU time per request (µs), and its ratios to http-proxy-middleware + keep-alive (D), to Express + undici Pool (U) and to Express + bare node:http client (E)',
    '',
    'Median over the rounds of CPU time (user + system, all threads) of the balancer process(es) divided by the responses it delivered. Lower is better. Ratios are taken within each round, then the median.',
    '',
  );
  lines.push(
    ...table(
      ['balancer', ...input.scenarios.map((s) => s.label)],
      measured
        .filter((c) => c.id !== DIRECT)
        .map((c) => [
          c.label,
          ...input.scenarios.map((s) => {
            const runs = runsOf(s.id, c.id);
            const cpu = median(defined(runs.map(cpuPerRequest)));
            if (cpu === undefined) return '–';
            const floor = ratio(runs, all, FLOOR, cpuPerRequest);
            const base = ratio(runs, all, BASE, cpuPerRequest);
            return (
              `${fmt.int(cpu)} (${fmt.ratio(ratio(runs, all, PEER, cpuPerRequest))} D` +
              `${floor === undefined ? '' : `, ${fmt.ratio(floor)} U`}${base === undefined ? '' : `, ${fmt.ratio(base)} E`})`
            );
          }),
        ]),
    ),
    '',
  );

  const flags: string[] = [];
  for (const scenario of input.scenarios) {
    const first = all.find((m) => m.scenario === scenario.id);
    if (first === undefined) continue;
    lines.push(`## ${scenario.label} (${scenario.method} ${scenario.path}, ${first.load.connections} connections)`, '');
    const rows = measured.map((c) => {
      const runs = runsOf(scenario.id, c.id);
      const errors = runs.reduce((sum, m) => sum + m.load.errors, 0);
      const timeouts = runs.reduce((sum, m) => sum + m.load.timeouts, 0);
      const gaps = runs.map((m) => ({ round: m.round, gap: littleGap(m) }));
      const checked = input.rate === undefined;
      const off = checked ? gaps.filter(({ gap }) => gap === undefined || Math.abs(gap) > LITTLE_TOLERANCE) : [];
      for (const { round, gap } of off) {
        flags.push(
          `${scenario.label}, ${c.label}, round ${round}: ` +
            (gap === undefined
              ? 'no responses'
              : `mean latency ${gap > 0 ? '+' : ''}${Math.round(gap * 100)} % from connections ÷ throughput`),
        );
      }
      return [
        c.label,
        fmt.int(median(runs.map(rps))),
        fmt.ratio(ratio(runs, all, DIRECT, rps)),
        fmt.ratio(ratio(runs, all, PEER, rps)),
        fmt.ms(median(runs.map((m) => m.load.latencyP50))),
        fmt.ms(median(runs.map((m) => m.load.latencyP99))),
        timeouts > 0 ? `${errors} (${timeouts} timeouts)` : String(errors),
        String(runs.reduce((sum, m) => sum + m.load.non2xx, 0)),
        fmt.int(median(defined(runs.map(cpuPerRequest)))),
        ratioWithRange(runs, all, PEER, cpuPerRequest),
        fmt.ratio(ratio(runs, all, FLOOR, cpuPerRequest)),
        fmt.ratio(ratio(runs, all, BASE, cpuPerRequest)),
        fmt.mb(runs.reduce<number | undefined>((max, m) => (m.peakRss === undefined ? max : Math.max(max ?? 0, m.peakRss)), undefined)),
        fmt.mb(runs.reduce<number | undefined>((max, m) => (m.rssGrowth === undefined ? max : Math.max(max ?? 0, m.rssGrowth)), undefined)),
        !checked ? 'n/a' : off.length === 0 ? 'ok' : `⚠ ${off.length}/${runs.length}`,
      ];
    });
    lines.push(
      ...table(
        [
          'balancer',
          'req/s',
          '× direct',
          '× hpm+ka',
          'p50 ms',
          'p99 ms',
          'errors',
          'non-2xx',
          'CPU µs/req',
          'CPU × hpm+ka (range)',
          'CPU × U',
          'CPU × E',
          'peak RSS MB',
          'RSS growth MB',
          "Little's law",
        ],
        rows,
      ),
      '',
    );
  }

  lines.push(
    "## Load generator check (Little's law)",
    '',
    `With every connection busy, mean latency must equal connections ÷ throughput (Little's law). Each run is checked; runs more than ${LITTLE_TOLERANCE * 100} % apart are listed, and their latency columns are not to be trusted. ` +
      "Far above (+): autocannon's latency is wrong for responses that close the connection (`Connection: close`): the reconnect time is not counted. " +
      'Below (−): time the load generator spends between a response and the next request is not in the latency, and autocannon records whole milliseconds, so sub-millisecond runs (direct) read low; ' +
      'the load generator, not the upstream, limits those runs. Runs with timeouts disagree too: a timed-out request holds its connection without adding to throughput.',
    '',
    ...(input.rate !== undefined
      ? ['Not checked: at a fixed rate the connections are not all busy, so the law does not bind latency to throughput.']
      : flags.length === 0
        ? ['All runs agree.']
        : flags.map((flag) => `- ${flag}`)),
    '',
    '## How it was measured',
    '',
    input.settings,
    '',
    ...input.machine.map((line) => `- ${line}`),
    ...(input.notes.length === 0 ? [] : ['', ...input.notes.map((note) => `Note: ${note}`)]),
    '',
  );
  return lines.join('\n');
}
