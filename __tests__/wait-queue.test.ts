import type { IncomingMessage, ServerResponse } from 'node:http';
import express from 'express';
import type { DequeueEvent } from 'express-load-balance';
import { FakeClock } from './helpers/fake-clock';
import { Holder } from './helpers/hold';
import { startRestartable, type RestartableUpstream } from './helpers/restartable';
import { closeAll, listen, request, startBalancer, type Balanced, type SimpleResponse, type Upstream } from './helpers/servers';

/** Resolves once `done()` holds, checking after each turn of the event loop (bounded). */
async function until(done: () => boolean, turns = 10_000): Promise<void> {
  for (let i = 0; i < turns && !done(); i++) await new Promise<void>((resolve) => setImmediate(resolve));
  expect(done()).toBe(true);
}

describe('the wait queue', () => {
  let upstreams: Array<Upstream | RestartableUpstream> = [];
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  const queueLength = (): number => balanced!.lb.stats().queue!.length;

  it('holds a burst of five times the capacity, serves it in arrival order, and refuses past its size at once', async () => {
    const holder = new Holder();
    upstreams = await holder.startUpstreams(['a', 'b']);
    balanced = await startBalancer({
      targets: upstreams.map((u) => u.url),
      maxInFlightPerTarget: 2,
      queue: { size: 16, timeout: 60_000 },
      retries: 0,
    });
    const left: DequeueEvent[] = [];
    balanced.lb.on('dequeue', (event) => left.push(event));
    const answers: Array<Promise<SimpleResponse>> = [];
    for (let i = 0; i < 20; i++) {
      answers.push(request(balanced.url, { path: `/slow?i=${i}` }));
      if (i < 4) await holder.arrived(i + 1);
      else await until(() => queueLength() === i - 3);
    }
    // Capacity 2 × 2 = 4 in flight, 16 waiting: the 21st is refused at once.
    const refused = await request(balanced.url, { path: '/slow?i=20' });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(balanced.errors.map((e) => (e as { code?: string }).code)).toEqual(['ELB_SATURATED']);

    for (let released = 1; released <= 20; released++) {
      holder.releaseOne();
      if (released <= 16) await holder.arrived(4);
    }
    holder.releaseAll();
    const statuses = (await Promise.all(answers)).map((answer) => answer.status);
    expect(statuses).toEqual(Array(20).fill(200));
    const arrivals = upstreams.flatMap((u) => (u as Upstream).seen).map((seen) => Number(seen.url.slice('/slow?i='.length)));
    expect([...arrivals].sort((x, y) => x - y)).toEqual([...Array(21).keys()].filter((i) => i !== 20));
    // Each upstream saw its share in arrival order, and the queue let them go first in, first out.
    for (const upstream of upstreams) {
      const seen = (upstream as Upstream).seen.map((s) => Number(s.url.slice('/slow?i='.length)));
      expect(seen).toEqual([...seen].sort((x, y) => x - y));
    }
    expect(left.map((e) => e.result)).toEqual(Array(16).fill('served'));
    expect(balanced.lb.stats().queue).toMatchObject({ length: 0, size: 16, recent: { requests: 16, failures: 0 } });
    const page = await listen(express().get('/status', balanced.lb.statusHandler()));
    try {
      const html = await request(page.url, { path: '/status', headers: { accept: 'text/html' } });
      expect(html.text).toMatch(/Queue: 0 of 16 waiting; 16 waits ended in the last 60 s \(0 not served\)/);
    } finally {
      await page.close();
    }
  });

  describe('through a full outage', () => {
    let clock: FakeClock;

    async function outage(timeout: number): Promise<Array<Promise<SimpleResponse>>> {
      const answer = (_req: IncomingMessage, res: ServerResponse): void => void res.end('ok');
      const a = await startRestartable(answer);
      const b = await startRestartable(answer);
      upstreams = [a, b];
      clock = new FakeClock();
      balanced = await startBalancer(
        {
          targets: [a.url, b.url],
          healthCheck: { interval: 500, unhealthyThreshold: 1, healthyThreshold: 1 },
          queue: { size: 1_000, timeout },
        },
        { runtime: { clock, random: () => 0.5 } },
      );
      await a.stop();
      await b.stop();
      const down = clock.timersSet(2, (ms) => ms >= 450 && ms <= 550);
      clock.advance(550);
      await down;
      expect(balanced.lb.stats().totals.usable).toBe(0);
      // Every GET tries both targets (panic mode), fails, and waits for one to come back.
      const answers = Array.from({ length: 20 }, () => request(balanced!.url));
      await until(() => queueLength() === 20);
      return answers;
    }

    it('lets every GET wait and succeed once the upstreams are back', async () => {
      const answers = await outage(5_000);
      const failed = clock.timersSet(2, (ms) => ms >= 450 && ms <= 550);
      clock.advance(2_000); // two seconds of outage: probes keep failing, nobody is answered
      await failed;
      expect(queueLength()).toBe(20);
      for (const upstream of upstreams as RestartableUpstream[]) await upstream.start();
      const up = clock.timersSet(2, (ms) => ms >= 450 && ms <= 550);
      clock.advance(550);
      await up;
      const statuses = (await Promise.all(answers)).map((answer) => answer.status);
      expect(statuses).toEqual(Array(20).fill(200));
      expect(balanced!.errors).toEqual([]);
    });

    it('answers 503 ELB_QUEUE_TIMEOUT once the timeout has passed, not before', async () => {
      const answers = await outage(500);
      clock.advance(499);
      await new Promise<void>((resolve) => setImmediate(resolve));
      expect(queueLength()).toBe(20);
      clock.advance(1);
      const results = await Promise.all(answers);
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(503));
      expect(results[0]!.headers['retry-after']).toBeDefined();
      expect(new Set(balanced!.errors.map((e) => (e as { code?: string }).code))).toEqual(new Set(['ELB_QUEUE_TIMEOUT']));
    });
  });

  /** One target with room for one request, that request held there, and the queue's leavers recorded. */
  async function oneSlotTaken(): Promise<{ holder: Holder; left: DequeueEvent[]; first: Promise<SimpleResponse> }> {
    const holder = new Holder();
    upstreams = await holder.startUpstreams(['a']);
    balanced = await startBalancer({ targets: [upstreams[0]!.url], maxInFlightPerTarget: 1, queue: { size: 5, timeout: 60_000 } });
    const left: DequeueEvent[] = [];
    balanced.lb.on('dequeue', (event) => left.push(event));
    const first = request(balanced.url, { path: '/slow?first' });
    await holder.arrived(1);
    return { holder, left, first };
  }

  it('answers what waits with 503 ELB_NO_TARGET and Connection: close when the balancer closes', async () => {
    const { holder, left, first } = await oneSlotTaken();
    const waiting = request(balanced!.url, { path: '/slow?waiting', headers: { connection: 'keep-alive' } });
    await until(() => queueLength() === 1);
    const closing = balanced!.lb.close({ drain: 60_000 });
    const refused = await waiting;
    expect(refused.status).toBe(503);
    expect(refused.headers.connection).toBe('close');
    expect(balanced!.errors.map((e) => (e as { code?: string }).code)).toEqual(['ELB_NO_TARGET']);
    expect(left.map((e) => e.result)).toEqual(['closed']);
    holder.releaseAll();
    expect((await first).status).toBe(200);
    await closing;
    expect((upstreams[0] as Upstream).seen.map((s) => s.url)).toEqual(['/slow?first']);
  });

  it('forgets a client that leaves while waiting, and sends nothing upstream for it', async () => {
    const { holder, left, first } = await oneSlotTaken();
    const controller = new AbortController();
    const waiting = request(balanced!.url, { path: '/slow?gone', signal: controller.signal }).catch((error: unknown) => error);
    await until(() => queueLength() === 1);
    controller.abort();
    await until(() => queueLength() === 0);
    expect(left.map((e) => e.result)).toEqual(['aborted']);
    holder.releaseAll();
    expect((await first).status).toBe(200);
    await waiting;
    expect((upstreams[0] as Upstream).seen.map((s) => s.url)).toEqual(['/slow?first']);
  });
});
