// The load generator, in its own process so that its CPU never competes inside the
// balancer's: runs autocannon once for the scenario the bench sends, reports, exits.
import autocannon from 'autocannon';
import type { LoadFailed, LoadResult, LoadStarted, RunLoad } from './ipc';
import { scenarioById } from './scenarios';

function run({ scenario: id, urls, duration, rate }: RunLoad): void {
  const send = process.send!.bind(process);
  const scenario = scenarioById(id);
  const body = scenario.body?.();
  // A timeout shorter than the run, so requests that never answer are counted, not lost at the end.
  const timeout = Math.max(1, Math.min(scenario.timeout, duration - 1));
  const started: LoadStarted = { type: 'started' };
  send(started);
  autocannon(
    {
      url: urls.map((url) => url + scenario.path),
      connections: scenario.connections,
      duration,
      timeout,
      method: scenario.method,
      headers: { ...scenario.headers },
      body,
      overallRate: rate,
    },
    (err, result) => {
      if (err) {
        const failed: LoadFailed = { type: 'failed', message: err.message };
        send(failed, () => process.exit(1));
        return;
      }
      const report: LoadResult = {
        type: 'result',
        connections: scenario.connections,
        duration: result.duration,
        responses: result['2xx'] + result.non2xx,
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        latencyMean: result.latency.mean,
        latencyP50: result.latency.p50,
        latencyP99: result.latency.p99,
      };
      send(report, () => process.exit(0));
    },
  );
}

process.once('message', (message: RunLoad) => run(message));
process.on('disconnect', () => process.exit(0));
