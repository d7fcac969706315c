import http from 'node:http';
import type { LoadBalanceOptions } from 'express-load-balance';
import { nextEvent } from './helpers/events';
import { Load, send, type Outcome } from './helpers/load';
import { startRestartable, type RestartableUpstream } from './helpers/restartable';
import { closeAll, startBalancer, type Balanced } from './helpers/servers';

// Bounded by the load's request count; this only has to outlast a slow machine.
const ROLLING_TEST_TIMEOUT = 60_000;

/** An upstream that can fail its health check on demand, then be stopped and restarted on its port. */
interface Instance extends RestartableUpstream {
  readonly name: string;
  failHealth: boolean;
}

describe('a rolling restart of every upstream under load', () => {
  let instances: Instance[] = [];
  let balanced: Balanced | undefined;
  let agent: http.Agent | undefined;
  afterEach(async () => {
    agent?.destroy();
    await closeAll(balanced, ...instances);
    balanced = undefined;
    agent = undefined;
    instances = [];
  });

  /** Who received each POST id (a GET counts too, under its id), and the answers clients got. */
  const received = new Map<string, string[]>();

  async function start(options: Partial<LoadBalanceOptions>): Promise<void> {
    received.clear();
    instances = await Promise.all(
      ['u0', 'u1', 'u2'].map(async (name) => {
        const instance: Instance = Object.assign(
          await startRestartable((req, res) => {
            if (req.url === '/health') {
              res.statusCode = instance.failHealth ? 503 : 200;
              res.end();
              return;
            }
            req.resume();
            req.on('end', () => {
              const id = req.headers['x-id'] as string;
              received.set(id, [...(received.get(id) ?? []), name]);
              // A turn of the event loop later, so a stop can catch requests in flight.
              setImmediate(() => res.end(id));
            });
          }),
          { name, failHealth: false },
        );
        return instance;
      }),
    );
    balanced = await startBalancer({ targets: instances.map((u) => u.url), ...options });
    agent = new http.Agent({ keepAlive: true, maxSockets: 20 });
  }

  /** 20 clients, GETs and POSTs, each with its own id, for as long as `restart` runs (bounded). */
  async function underLoad(restart: (load: Load) => Promise<void>): Promise<{ answers: Map<string, Outcome>; load: Load }> {
    const answers = new Map<string, Outcome>();
    const load = new Load(20_000, 20);
    const running = load.run(async (i) => {
      const id = `${i % 2 === 0 ? 'get' : 'post'}-${i}`;
      const body = i % 2 === 0 ? undefined : JSON.stringify({ id });
      const headers: http.OutgoingHttpHeaders = { 'x-id': id };
      if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      answers.set(id, await send(agent!, balanced!.url, { method: body === undefined ? 'GET' : 'POST', headers, body }));
    });
    try {
      await load.when('warm-up', () => load.finished >= 100);
      await restart(load);
      const done = load.finished;
      await load.when('100 more requests after the last restart', () => load.finished >= done + 100);
    } finally {
      load.stop();
      await running;
    }
    return { answers, load };
  }

  const deliveredTwice = (): string[] => [...received].filter(([, by]) => by.length > 1).map(([id]) => id);

  it(
    'drained by health checks: no request fails, every id is answered once and reaches one upstream once',
    async () => {
      await start({ healthCheck: { interval: 50, healthyThreshold: 1, unhealthyThreshold: 1 }, outlierDetection: false });
      const { lb } = balanced!;
      const { answers, load } = await underLoad(async (load) => {
        for (const [i, instance] of instances.entries()) {
          const down = nextEvent(lb, 'targetDown', instance.url);
          instance.failHealth = true;
          await down;
          // Drained: nothing of ours is in flight there any more, so the stop loses nothing.
          await load.when(`${instance.name} drained`, () => lb.targets()[i]!.inFlight === 0);
          await instance.stop();
          await instance.start();
          const up = nextEvent(lb, 'targetUp', instance.url);
          instance.failHealth = false;
          await up;
          const served = received.size;
          await load.when(`${instance.name} serves again`, () =>
            [...received.values()].slice(served).some((by) => by.includes(instance.name)),
          );
        }
      });
      const failed = [...answers].filter(([id, outcome]) => !('status' in outcome) || outcome.status !== 200 || outcome.body !== id);
      expect(failed).toEqual([]);
      expect(answers.size).toBe(load.started);
      expect(deliveredTwice()).toEqual([]);
    },
    ROLLING_TEST_TIMEOUT,
  );

  it(
    'killed and restarted with a queue: no GET fails, and every POST is answered 200 or 502, never delivered twice',
    async () => {
      // Short ejections, so a restarted upstream is back in rotation within the run.
      await start({
        queue: { size: 1_000, timeout: 5_000 },
        outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 100, maxEjectionTime: 200 },
      });
      const { answers, load } = await underLoad(async (load) => {
        for (const instance of instances) {
          const before = load.finished;
          await instance.stop(); // every connection reset, requests in flight included
          await load.when(`load while ${instance.name} is down`, () => load.finished >= before + 100);
          await instance.start();
          const restarted = received.size;
          await load.when(`${instance.name} serves again`, () =>
            [...received.values()].slice(restarted).some((by) => by.includes(instance.name)),
          );
        }
      });
      const gets = [...answers].filter(([id]) => id.startsWith('get'));
      const posts = [...answers].filter(([id]) => id.startsWith('post'));
      expect(gets.filter(([id, outcome]) => !('status' in outcome) || outcome.status !== 200 || outcome.body !== id)).toEqual([]);
      const postOk = posts.filter(([id, outcome]) => 'status' in outcome && outcome.status === 200 && outcome.body === id).length;
      const post502 = posts.filter(([, outcome]) => 'status' in outcome && outcome.status === 502).length;
      expect(postOk + post502).toBe(posts.length);
      expect(answers.size).toBe(load.started);
      // A GET reset after it was sent is retried, so it may reach two upstreams; a POST never.
      expect(deliveredTwice().filter((id) => id.startsWith('post'))).toEqual([]);
    },
    ROLLING_TEST_TIMEOUT,
  );
});
