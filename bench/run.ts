// `npm run bench`: three upstreams, every balancer in its own process, autocannon in
// another; each scenario is measured against each balancer in turn, round after round,
// and the report goes to stdout and bench/results/.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Contender, Running } from './contender';
import { contenders } from './contenders';
import { describeMachine } from './machine';
import { measure, type Measurement } from './measure';
import { ProcessGroup, readyPort } from './processes';
import { BASE, DIRECT, FLOOR, PEER, renderReport } from './report';
import { SCENARIOS, type Scenario } from './scenarios';
import { readSettings, type Settings } from './settings';
import { findNginx, nginxVersion } from './balancers/nginx';

const ROOT = path.join(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');
const UPSTREAM_COUNT = 3;

/** Users run the built package, so that is what is measured. */
function buildPackage(): void {
  const result = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'tsup'), [], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`the build failed:\n${result.stdout}${result.stderr}`);
}

async function startUpstreams(group: ProcessGroup): Promise<string[]> {
  const entry = path.join(__dirname, 'upstream.ts');
  return Promise.all(
    Array.from({ length: UPSTREAM_COUNT }, async (_, i) => {
      const port = await readyPort(group.forkTs(entry, [String(i + 1)]), `upstream ${i + 1}`);
      return `http://127.0.0.1:${port}`;
    }),
  );
}

function chosen(list: readonly Contender[], settings: Settings): Contender[] {
  const { only } = settings;
  return only === undefined
    ? [...list]
    : list.filter((c) => only.has(c.id) || c.id === DIRECT || c.id === PEER || c.id === FLOOR || c.id === BASE);
}

function describeSettings(s: Settings): string {
  return (
    `${s.rounds} interleaved rounds (every balancer once per scenario, then again), ${s.duration} s per run, each right after ${s.warmup} s of unmeasured load on the same balancer (a balancer that sat idle while the others ran starts cold), ` +
    (s.rate === undefined
      ? 'each connection sending its next request as soon as it has an answer; '
      : `at a fixed ${s.rate} requests/s (BENCH_RATE); `) +
    'autocannon in its own process; each balancer in its own process; three Express upstreams, one process each; loopback only. ' +
    'CPU and peak RSS are read from /proc for the balancer process(es) over the measured window; RSS growth is the peak minus the RSS before the warm-up (the most over the rounds). ' +
    'Express-based balancers have express.json() in front, as an application would; the tutorial has none, as published.'
  );
}

function stamp(date: Date): string {
  return date.toISOString().slice(0, 16).replace(':', '-');
}

/** Starts every chosen contender; one that cannot start (nginx) becomes a note, unless the ratios need it. */
async function startContenders(
  list: readonly Contender[],
  upstreams: readonly string[],
  notes: string[],
): Promise<{ started: Contender[]; running: Map<string, Running> }> {
  const running = new Map<string, Running>();
  const started: Contender[] = [];
  for (const contender of list) {
    try {
      running.set(contender.id, await contender.start(upstreams));
      started.push(contender);
    } catch (err) {
      if (contender.id === DIRECT || contender.id === PEER) throw err;
      notes.push(`${contender.label} did not start (${err instanceof Error ? err.message : String(err)}): its row is skipped.`);
    }
  }
  return { started, running };
}

/** The rounds: in each, every scenario against every contender in turn, each run after its own warm-up. */
async function measureRounds(
  group: ProcessGroup,
  settings: Settings,
  scenarios: readonly Scenario[],
  started: readonly Contender[],
  running: ReadonlyMap<string, Running>,
): Promise<Measurement[]> {
  const runs = settings.rounds * scenarios.length * started.length;
  console.log(
    `Measuring ${started.length} contenders × ${scenarios.length} scenarios × ${settings.rounds} rounds ` +
      `(~${((runs * (settings.duration + settings.warmup)) / 60).toFixed(1)} min of load)…`,
  );
  const measurements: Measurement[] = [];
  for (let round = 1; round <= settings.rounds; round++) {
    for (const scenario of scenarios) {
      for (const contender of started) {
        const result = await measure(group, running.get(contender.id)!, scenario, settings);
        measurements.push({ round, scenario: scenario.id, contender: contender.id, ...result });
        const { load } = result;
        const rps = Math.round(load.responses / load.duration)
          .toString()
          .padStart(6);
        console.log(
          `round ${round} ${scenario.id.padEnd(12)} ${contender.id.padEnd(32)} ${rps} req/s  errors ${load.errors}  non-2xx ${load.non2xx}`,
        );
      }
    }
  }
  return measurements;
}

function saveReport(report: string, date: Date): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(path.join(RESULTS, `${stamp(date)}.md`), report);
  writeFileSync(path.join(RESULTS, 'latest.md'), report);
  console.log(`Saved to bench/results/${stamp(date)}.md and bench/results/latest.md`);
}

async function main(group: ProcessGroup): Promise<void> {
  const settings = readSettings();
  const scenarios = SCENARIOS.filter((s) => settings.scenarios?.has(s.id) ?? true);
  const execArgv: Record<string, string[]> = {};
  for (const id of settings.profile) {
    execArgv[id] = ['--cpu-prof', '--cpu-prof-interval', '100', '--cpu-prof-dir', path.join(RESULTS, 'profiles')];
  }

  console.log('Building the package…');
  buildPackage();
  const upstreams = await startUpstreams(group);
  const { list, notes } = contenders(group, { execArgv, candidate: settings.candidate });
  const { started, running } = await startContenders(chosen(list, settings), upstreams, notes);
  const measurements = await measureRounds(group, settings, scenarios, started, running);
  // Stopped before the report, so that profiled children write their profiles now.
  for (const contender of started) await running.get(contender.id)!.stop();

  const nginx = findNginx();
  const date = new Date();
  const report = renderReport({
    date,
    scenarios,
    contenders: started,
    measurements,
    machine: describeMachine(nginx === undefined ? [] : [nginxVersion(nginx)]),
    settings: describeSettings(settings),
    rate: settings.rate,
    notes,
  });
  console.log(`\n${report}`);
  saveReport(report, date);
  console.log(`The child processes' output is in ${path.relative(ROOT, group.logFile)}.`);
}

const group = new ProcessGroup(path.join(RESULTS, 'logs', 'children.log'));
let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await group.stopAll();
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(130));
process.on('SIGTERM', () => void shutdown(143));
process.on('exit', () => group.killAllNow());

main(group).then(
  () => shutdown(0),
  (err: unknown) => {
    // After Ctrl-C the children are gone on purpose: their absence is no error to report.
    if (!stopping) console.error(err, `\n(the child processes' output is in ${path.relative(ROOT, group.logFile)})`);
    void shutdown(1);
  },
);
