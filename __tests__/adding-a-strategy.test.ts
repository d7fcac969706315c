import type { LoadBalanceOptions } from 'express-load-balance';
import { STRATEGIES } from '../src/balancing/strategies';
import type { Strategy } from '../src/balancing/strategies/types';
import type { TargetState } from '../src/balancing/target';
import type { Target } from '../src/balancing/target-views';
import { systemRuntime } from '../src/clock';
import { loadBalanceOn } from '../src/load-balance';
import { answers, closeAll, listen, startUpstream, type RunningServer, type Upstream } from './helpers/servers';
import express from 'express';

/**
 * A strategy written as the built-in ones are, as its own file would hold it
 * (src/balancing/strategies/<name>.ts): a factory over the balancer's context that
 * keeps its scratch state to itself. "Fewest picks": each request goes to the target
 * this strategy has picked least often per unit of weight; ties to the first.
 */
function fewestPicks(): Strategy<TargetState> {
  const picks = new WeakMap<Target, number>();
  return {
    pick(targets) {
      let best: TargetState | undefined;
      for (const target of targets) {
        if (best === undefined || (picks.get(target) ?? 0) / target.weight < (picks.get(best) ?? 0) / best.weight) best = target;
      }
      if (best !== undefined) picks.set(best, (picks.get(best) ?? 0) + 1);
      return best;
    },
  };
}

/** ...and its one row in the table of strategies by name. */
const WITH_FEWEST_PICKS = { ...STRATEGIES, 'fewest-picks': fewestPicks };

describe('adding a strategy: one file and one row', () => {
  let upstreams: Upstream[] = [];
  let front: RunningServer | undefined;
  afterEach(async () => {
    await closeAll(front, ...upstreams);
    front = undefined;
    upstreams = [];
  });

  it('balances by the new name, with the weights, the lifecycle and the stats the built-in ones get', async () => {
    upstreams = await Promise.all(['a', 'b', 'c'].map((name) => startUpstream(name)));
    const options = {
      targets: [{ url: upstreams[0]!.url, weight: 2 }, upstreams[1]!.url, upstreams[2]!.url],
      strategy: 'fewest-picks',
    } as unknown as LoadBalanceOptions;
    const lb = loadBalanceOn(systemRuntime, options, WITH_FEWEST_PICKS);
    const app = express();
    app.use(lb);
    front = await listen(app);
    const close = front.close;
    front.close = async () => {
      await lb.close();
      await close();
    };
    expect(await answers(front.url, 8)).toBe('a b c a a b c a');
    expect(lb.targets().map((t) => [t.requests, t.inFlight])).toEqual([
      [4, 0],
      [2, 0],
      [2, 0],
    ]);
    expect(lb.stats().totals.recent.requests).toBe(8);
  });

  it('is a name the strategy option accepts only where the row is', () => {
    const options = { targets: ['http://127.0.0.1:1'], strategy: 'fewest-picks' } as unknown as LoadBalanceOptions;
    expect(() => loadBalanceOn(systemRuntime, options)).toThrow(/option "strategy" must be one of round-robin, .*peak-ewma/);
    expect(() =>
      loadBalanceOn(systemRuntime, { ...options, strategy: 'nope' } as unknown as LoadBalanceOptions, WITH_FEWEST_PICKS),
    ).toThrow(/must be one of .*peak-ewma, fewest-picks/);
  });
});
