import http from 'node:http';
import type { LoadBalanceOptions } from 'express-load-balance';
import { nextEvent } from './helpers/events';
import { startRawUpstream, type RawUpstream } from './helpers/raw-upstream';
import { startRestartable, type RestartableUpstream } from './helpers/restartable';
import { closeAll, deadUrl, first, listen, request, startBalancer, type Balanced, type RunningServer } from './helpers/servers';
import { runConcurrently } from './helpers/hold';
import { Load, send, type Outcome } from './helpers/load';

// Short detection windows, so the whole outage plays out in a second or two.
const DETECTION: Record<string, Partial<LoadBalanceOptions>> = {
  'outlier detection': { outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 100, maxEjectionTime: 200 } },
  'health checks': { healthCheck: { interval: 50, timeout: 2_000 }, outlierDetection: false },
};

// The load is bounded by its request count; this only has to outlast a slow run
// (under --detectOpenHandles one outage takes some 15 s).
const OUTAGE_TEST_TIMEOUT = 60_000;

describe('an upstream that dies under load and comes back on the same port', () => {
  const NAMES = ['u0', 'u1', 'u2'] as const;
  let upstreams: RestartableUpstream[] = [];
  let balanced: Balanced | undefined;
  let agent: http.Agent | undefined;
  afterEach(async () => {
    agent?.destroy();
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    agent = undefined;
    upstreams = [];
  });

  /**
   * Runs the load while u1 is stopped after 300 requests and restarted once the
   * balancer has noticed; returns the attempts u1 got while it was known to be down.
   */
  async function outage(
    mode: string,
    load: Load,
    one: (i: number) => Promise<void>,
    received: Record<string, number>,
  ): Promise<{ attemptsWhileDown: number; returnsWhileDown: number }> {
    const u1 = upstreams[1]!;
    const { lb } = balanced!;
    const attemptsOnU1 = (): number => lb.targets()[1]!.requests;
    const running = load.run(one);
    try {
      await load.when('300 requests done', () => load.finished >= 300);
      const down = nextEvent(lb, 'targetDown', u1.url);
      await u1.stop();
      // Raced with the load running out, so a balancer that never notices fails the test.
      const event = await Promise.race([down, load.when('u1 is taken out of rotation', () => false).then(() => undefined)]);
      expect(event?.reason).toBe(mode === 'health checks' ? 'health-check' : 'outlier');

      // Each time an ejection ends, the target is back on probation until its next failure.
      let returnsWhileDown = 0;
      const returned = (): void => void returnsWhileDown++;
      lb.on('targetUp', returned);
      const attemptsAtDown = attemptsOnU1();
      const finishedAtDown = load.finished;
      await load.when('300 more requests while u1 is down', () => load.finished >= finishedAtDown + 300);
      const attemptsWhileDown = attemptsOnU1() - attemptsAtDown;
      lb.off('targetUp', returned);

      await u1.start();
      const receivedAtRestart = received.u1!;
      await load.when('u1 serves 30 requests after its restart', () => received.u1! >= receivedAtRestart + 30);
      return { attemptsWhileDown, returnsWhileDown };
    } finally {
      load.stop();
      await running;
    }
  }

  async function startAll(
    mode: string,
    answer: (name: string, req: http.IncomingMessage, res: http.ServerResponse) => void,
  ): Promise<void> {
    upstreams = await Promise.all(
      NAMES.map((name) =>
        startRestartable((req, res) => {
          if (req.url === '/health') res.end();
          else answer(name, req, res);
        }),
      ),
    );
    balanced = await startBalancer({ targets: upstreams.map((u) => u.url), retries: 2, ...DETECTION[mode] });
    agent = new http.Agent({ keepAlive: true, maxSockets: 50 });
  }

  it.each(Object.keys(DETECTION))(
    'loses no GET, with %s',
    async (mode) => {
      const received: Record<string, number> = { u0: 0, u1: 0, u2: 0 };
      // The answer comes a turn of the event loop later, so a stop can catch requests in flight.
      await startAll(mode, (name, _req, res) => {
        received[name]!++;
        setImmediate(() => res.end(name));
      });
      const failed: Outcome[] = [];
      const load = new Load(10_000, 50);
      const { attemptsWhileDown, returnsWhileDown } = await outage(
        mode,
        load,
        async () => {
          const outcome = await send(agent!, balanced!.url);
          if (!('status' in outcome) || outcome.status !== 200) failed.push(outcome);
        },
        received,
      );
      expect(failed).toEqual([]);
      // Health checks keep a down target out entirely. Outlier detection lets it back on
      // probation when an ejection ends: the requests picked before its first failure
      // comes back (a handful under 50 concurrent clients) go there, then it is out again.
      if (mode === 'health checks') expect(attemptsWhileDown).toBe(0);
      else expect(attemptsWhileDown).toBeLessThanOrEqual(20 * returnsWhileDown);
    },
    OUTAGE_TEST_TIMEOUT,
  );

  it.each(Object.keys(DETECTION))(
    'delivers each POST at most once and reports every failure, with %s',
    async (mode) => {
      const received: Record<string, number> = { u0: 0, u1: 0, u2: 0 };
      const seen = new Map<string, string[]>();
      const garbled: string[] = [];
      await startAll(mode, (name, req, res) => {
        let body = '';
        req.setEncoding('utf8');
        req.on('data', (chunk: string) => (body += chunk));
        req.on('end', () => {
          received[name]!++;
          const id = req.headers['x-id'] as string;
          if (body !== JSON.stringify({ id })) garbled.push(id);
          seen.set(id, [...(seen.get(id) ?? []), name]);
          setImmediate(() => res.end(id));
        });
      });
      const ok: string[] = [];
      const badGateway: string[] = [];
      const other: Array<{ id: string; outcome: Outcome }> = [];
      const load = new Load(10_000, 50);
      await outage(
        mode,
        load,
        async (i) => {
          const id = `post-${i}`;
          const body = JSON.stringify({ id });
          const outcome = await send(agent!, balanced!.url, {
            method: 'POST',
            headers: { 'x-id': id, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
            body,
          });
          if ('status' in outcome && outcome.status === 200 && outcome.body === id) ok.push(id);
          else if ('status' in outcome && outcome.status === 502) badGateway.push(id);
          else other.push({ id, outcome });
        },
        received,
      );
      expect(other).toEqual([]);
      expect(garbled).toEqual([]);
      expect(ok.length + badGateway.length).toBe(load.started);
      const twice = [...seen].filter(([, by]) => by.length > 1);
      expect(twice).toEqual([]);
      expect(ok.filter((id) => seen.get(id)?.length !== 1)).toEqual([]);
    },
    OUTAGE_TEST_TIMEOUT,
  );
});

describe('hostile upstreams', () => {
  let servers: Array<{ close(): Promise<void> }> = [];
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, ...servers);
    balanced = undefined;
    servers = [];
  });

  /** An upstream that records the method of each request and leaves the answer (or none) to `answer`. */
  async function upstream(
    answer: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  ): Promise<RunningServer & { hits: string[] }> {
    const hits: string[] = [];
    const running = await listen((req, res) => {
      hits.push(req.method!);
      answer(req, res);
    });
    servers.push(running);
    return Object.assign(running, { hits });
  }

  /** A raw upstream that answers with `head` and `part` of a body, then destroys the connection: a crash mid-response. */
  async function resetMidBody(head: string, part: string): Promise<RawUpstream> {
    const raw = await startRawUpstream((socket) => socket.write(`${head}\r\n\r\n${part}`, () => socket.destroy()));
    servers.push(raw);
    return raw;
  }

  it('retries a GET elsewhere when an upstream accepts and never answers, and answers a POST 504 soon', async () => {
    const silent = await upstream(() => undefined);
    const good = await upstream((_req, res) => res.end('good'));
    balanced = await startBalancer({ targets: [silent.url, good.url], strategy: first, timeout: 300, outlierDetection: false });

    const get = await request(balanced.url);
    expect([get.status, get.text]).toEqual([200, 'good']);

    const post = await request(balanced.url, { method: 'POST', body: 'x' });
    // Answered by the timeout (the test's own timeout bounds "soon"), not by a retry.
    expect(post.status).toBe(504);
    expect(balanced.errors).toEqual([expect.objectContaining({ code: 'ELB_GATEWAY_TIMEOUT' })]);
    expect(silent.hits).toEqual(['GET', 'POST']);
    expect(good.hits).toEqual(['GET']);
  });

  it('serves an upstream that answers slowly but within the timeout, in one attempt', async () => {
    // Slow next to `good`, and far within the timeout, whatever else the machine is doing.
    const slow = await upstream((_req, res) => setTimeout(() => res.end('slow'), 150));
    const good = await upstream((_req, res) => res.end('good'));
    balanced = await startBalancer({ targets: [slow.url, good.url], strategy: first, timeout: 10_000 });
    const res = await request(balanced.url);
    expect([res.status, res.text]).toEqual([200, 'slow']);
    expect(balanced.lb.targets().map((t) => [t.requests, t.failures])).toEqual([
      [1, 0],
      [0, 0],
    ]);
  });

  it.each`
    framing             | head                                               | part
    ${'Content-Length'} | ${'HTTP/1.1 200 OK\r\nContent-Length: 100'}        | ${'partial'}
    ${'chunked'}        | ${'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked'} | ${'7\r\npartial\r\n'}
  `(
    'breaks the client response when the upstream dies mid-body ($framing), and retries nothing',
    async ({ head, part }: { framing: string; head: string; part: string }) => {
      const broken = await resetMidBody(head, part);
      const good = await upstream((_req, res) => res.end('good'));
      balanced = await startBalancer({ targets: [broken.url, good.url], strategy: first });
      const agent = new http.Agent({ keepAlive: false });
      try {
        const outcome = await send(agent, balanced.url);
        expect(outcome).toEqual({ error: expect.stringMatching(/aborted|ECONNRESET|socket hang up/) as unknown });
      } finally {
        agent.destroy();
      }
      expect(broken.requests).toBe(1);
      expect(good.hits).toEqual([]);
    },
  );

  it('sends a POST once even when the upstream resets a reused connection after reading it', async () => {
    // The upstream's application reads the POST, then its process dies before answering:
    // to the balancer this is a reset on a pooled connection, the same as the
    // keep-alive race, but the request was seen and must not be sent again.
    const crashing = await upstream((req, res) => {
      if (req.method === 'POST') req.socket.destroy();
      else res.end('warm');
    });
    const good = await upstream((_req, res) => res.end('good'));
    balanced = await startBalancer({ targets: [crashing.url, good.url], strategy: first, outlierDetection: false });
    // Twice, so the balancer surely holds a pooled connection to the crashing upstream.
    await request(balanced.url);
    await request(balanced.url);

    const res = await request(balanced.url, { method: 'POST', body: 'once' });
    expect(res.status).toBe(502);
    expect(crashing.hits).toEqual(['GET', 'GET', 'POST']);
    expect(good.hits).toEqual([]);
  });

  it('retries a 503 elsewhere only when retryOn lists it, and ejects the upstream that keeps answering 503', async () => {
    const busy = await upstream((_req, res) => {
      res.statusCode = 503;
      res.end('busy');
    });
    const good = await upstream((_req, res) => res.end('good'));
    const options = {
      targets: [busy.url, good.url],
      strategy: first,
      outlierDetection: { consecutiveFailures: 3, baseEjectionTime: 60_000 },
    };

    balanced = await startBalancer({ ...options, retryOn: [503] });
    let down = nextEvent(balanced.lb, 'targetDown', busy.url);
    expect((await request(balanced.url)).text).toBe('good');
    // Never for a POST: it may have been acted on.
    expect((await request(balanced.url, { method: 'POST' })).text).toBe('busy');
    expect((await request(balanced.url)).text).toBe('good');
    expect(balanced.lb.targets()[0]!.ejected).toBe(true);
    expect((await down).reason).toBe('outlier');
    expect(busy.hits).toEqual(['GET', 'POST', 'GET']);
    await balanced.close();

    busy.hits.length = 0;
    balanced = await startBalancer(options);
    down = nextEvent(balanced.lb, 'targetDown', busy.url);
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await request(balanced.url);
      answers.push(`${res.status} ${res.text}`);
    }
    expect(answers).toEqual(['503 busy', '503 busy', '503 busy', '200 good']);
    expect((await down).reason).toBe('outlier');
    expect(busy.hits).toHaveLength(3);
  });
});

describe('the retry budget when every upstream refuses connections', () => {
  let balanced: Balanced | undefined;
  afterEach(() => closeAll(balanced));

  it.each`
    budget                                  | bound
    ${{ ratio: 0.2, minPerSecond: 0 }}      | ${'1.2 N'}
    ${{ ratio: 0.2, minPerSecond: 10_000 }} | ${'3 N'}
  `(
    'keeps attempts within $bound with retryBudget $budget',
    async ({ budget, bound }: { budget: LoadBalanceOptions['retryBudget']; bound: string }) => {
      const N = 200;
      balanced = await startBalancer({
        targets: await Promise.all([deadUrl(), deadUrl(), deadUrl()]),
        retries: 2,
        retryBudget: budget,
        outlierDetection: false,
      });
      const statuses = await runConcurrently(N, 20, async () => (await request(balanced!.url)).status);
      expect(new Set(statuses)).toEqual(new Set([502]));
      const attempts = balanced.lb.targets().reduce((sum, t) => sum + t.requests, 0);
      if (bound === '3 N') {
        expect(attempts).toBe(3 * N);
      } else {
        // The budget counts a request when it starts, so the first retries may come just
        // before the requests that pay for them: one retry of slack.
        expect(attempts).toBeLessThanOrEqual(N * 1.2 + 1);
        expect(attempts).toBeGreaterThanOrEqual(N * 1.2 - 1);
      }
    },
  );
});
