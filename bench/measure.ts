// One measured run: autocannon in its own process against one contender, right after
// an unmeasured warm-up against the same contender, while the contender's CPU time and
// memory are read from /proc.
import path from 'node:path';
import type { Running } from './contender';
import type { FromChild, LoadResult, RunLoad } from './ipc';
import { cpuSeconds, PeakRss } from './proc-stats';
import type { ProcessGroup } from './processes';
import type { Scenario } from './scenarios';
import type { Settings } from './settings';

const LOAD_ENTRY = path.join(__dirname, 'load.ts');

export interface Measurement {
  readonly round: number;
  readonly scenario: string;
  readonly contender: string;
  readonly load: LoadResult;
  /** Balancer CPU seconds over the measured window; undefined for direct. */
  readonly cpuSeconds: number | undefined;
  /** Peak summed RSS of the balancer's processes during the run, in bytes. */
  readonly peakRss: number | undefined;
  /** Peak RSS minus the RSS before the run's warm-up: what this scenario's load made it hold. */
  readonly rssGrowth: number | undefined;
}

/** Runs autocannon once in a child process; `onStarted` runs as the load begins. */
async function runLoad(
  group: ProcessGroup,
  running: Running,
  scenario: Scenario,
  duration: number,
  rate: number | undefined,
  onStarted: () => void = () => {},
): Promise<LoadResult> {
  const child = group.forkTs(LOAD_ENTRY);
  try {
    return await new Promise<LoadResult>((resolve, reject) => {
      child.on('message', (message: FromChild) => {
        if (message.type === 'started') onStarted();
        else if (message.type === 'result') resolve(message);
        else if (message.type === 'failed') reject(new Error(`autocannon failed: ${message.message}`));
      });
      child.once('exit', (code) => reject(new Error(`the load process exited (code ${code}) without a result`)));
      const run: RunLoad = { type: 'run', scenario: scenario.id, urls: running.urls, duration, rate };
      child.send(run);
    });
  } finally {
    await group.stop(child);
  }
}

/**
 * Warms the contender up, then measures it. The warm-up comes right before every
 * measured window, not once per contender at the start: a Node contender that sat idle
 * while the others were measured (a minute, with a dozen contenders) is cold again, as
 * V8 flushes the bytecode of functions that went unused while it collected garbage.
 * Measured on the 2-core bench machine, 5,000 GET small after 60 s idle: 1.3 to 1.7 ×
 * the steady-state CPU per request, by a different factor for each contender (Express
 * + node:http 1.47, Express + undici 1.34, express-load-balance 1.74); with
 * `--no-flush-bytecode` most of the excess goes, and after 1 s of load all of it. RSS
 * growth is counted from before the warm-up, so the warm-up's own growth stays in it.
 */
export async function measure(
  group: ProcessGroup,
  running: Running,
  scenario: Scenario,
  { warmup, duration, rate }: Pick<Settings, 'warmup' | 'duration' | 'rate'>,
): Promise<{ load: LoadResult; cpuSeconds: number | undefined; peakRss: number | undefined; rssGrowth: number | undefined }> {
  const { pids } = running;
  const rss = pids.length === 0 ? undefined : new PeakRss(pids);
  try {
    if (warmup > 0) await runLoad(group, running, scenario, warmup, rate);
    let cpuAtStart = 0;
    const load = await runLoad(group, running, scenario, duration, rate, () => (cpuAtStart = cpuSeconds(pids)));
    const used = pids.length === 0 ? undefined : cpuSeconds(pids) - cpuAtStart;
    const peakRss = rss?.stop();
    return { load, cpuSeconds: used, peakRss, rssGrowth: rss === undefined || peakRss === undefined ? undefined : peakRss - rss.idle };
  } finally {
    rss?.stop();
  }
}
