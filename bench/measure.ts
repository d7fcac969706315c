// One measured run: autocannon in its own process against one contender, while the
// contender's CPU time and memory are read from /proc.
import path from 'node:path';
import type { Running } from './contender';
import type { FromChild, LoadResult, RunLoad } from './ipc';
import { cpuSeconds, PeakRss } from './proc-stats';
import type { ProcessGroup } from './processes';
import type { Scenario } from './scenarios';

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
  /** Peak RSS minus the RSS just before the run: what this scenario's load made it hold. */
  readonly rssGrowth: number | undefined;
}

export async function measure(
  group: ProcessGroup,
  running: Running,
  scenario: Scenario,
  duration: number,
  rate: number | undefined,
): Promise<{ load: LoadResult; cpuSeconds: number | undefined; peakRss: number | undefined; rssGrowth: number | undefined }> {
  const { pids } = running;
  const rss = pids.length === 0 ? undefined : new PeakRss(pids);
  let cpuAtStart = 0;
  const child = group.forkTs(LOAD_ENTRY);
  try {
    const load = await new Promise<LoadResult>((resolve, reject) => {
      child.on('message', (message: FromChild) => {
        if (message.type === 'started') cpuAtStart = cpuSeconds(pids);
        else if (message.type === 'result') resolve(message);
        else if (message.type === 'failed') reject(new Error(`autocannon failed: ${message.message}`));
      });
      child.once('exit', (code) => reject(new Error(`the load process exited (code ${code}) without a result`)));
      const run: RunLoad = { type: 'run', scenario: scenario.id, urls: running.urls, duration, rate };
      child.send(run);
    });
    const used = pids.length === 0 ? undefined : cpuSeconds(pids) - cpuAtStart;
    const peakRss = rss?.stop();
    return { load, cpuSeconds: used, peakRss, rssGrowth: rss === undefined || peakRss === undefined ? undefined : peakRss - rss.idle };
  } finally {
    rss?.stop();
    await group.stop(child);
  }
}
