import http from 'node:http';
import type { DequeueEvent } from 'express-load-balance';
import { Registry } from 'prom-client';
import { prometheusMetrics, type PrometheusOptions } from '../src/prometheus';
import { endings, nextEvent } from './helpers/events';
import { Holder } from './helpers/hold';
import { closeAll, deadUrl, first, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

/** The sample lines of a scrape whose name starts with `name`, without HELP/TYPE comments. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(name));
}

describe('prometheusMetrics()', () => {
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  let holder = new Holder();
  afterEach(async () => {
    holder.releaseAll();
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
    holder = new Holder();
  });

  it('adds the queue length and the time spent queued for a balancer with a queue', async () => {
    upstreams = await holder.startUpstreams(['a', 'b']);
    balanced = await startBalancer({
      targets: upstreams.map((u) => u.url),
      maxInFlightPerTarget: 1,
      queue: { size: 5, timeout: 60_000 },
    });
    const registry = new Registry();
    const metrics = prometheusMetrics(balanced.lb, { registry });
    expect(metrics.names).toEqual([
      'elb_requests_total',
      'elb_request_duration_seconds',
      'elb_in_flight_requests',
      'elb_target_up',
      'elb_queue_length',
      'elb_queue_wait_seconds',
    ]);
    const held = [request(balanced.url, { path: '/slow' }), request(balanced.url, { path: '/slow' })];
    await holder.arrived(2);
    const queued = request(balanced.url, { path: '/slow' });
    const waiting = new Promise<DequeueEvent>((resolve) => balanced!.lb.on('dequeue', resolve));
    for (let i = 0; i < 1_000 && balanced.lb.stats().queue!.length === 0; i++) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(samples(await registry.metrics(), 'elb_queue_length')).toEqual(['elb_queue_length 1']);
    holder.releaseOne();
    expect((await waiting).result).toBe('served');
    await holder.arrived(2);
    holder.releaseAll();
    await Promise.all([...held, queued]);
    const text = await registry.metrics();
    expect(samples(text, 'elb_queue_length')).toEqual(['elb_queue_length 0']);
    expect(samples(text, 'elb_queue_wait_seconds_count')).toEqual(['elb_queue_wait_seconds_count{result="served"} 1']);
  });

  it('registers no queue metrics for a balancer without a queue', async () => {
    upstreams = [await startUpstream('a')];
    balanced = await startBalancer({ targets: [upstreams[0]!.url] });
    const registry = new Registry();
    expect(prometheusMetrics(balanced.lb, { registry }).names).not.toContain('elb_queue_length');
  });

  it('counts attempts by target, method and status class, with their durations', async () => {
    upstreams = await Promise.all(
      ['a', 'b'].map((name) =>
        startUpstream(name, (app) => {
          app.get('/missing', (_req, res) => void res.status(404).send('no'));
          app.get('/broken', (req, res) => {
            res.writeHead(200, { 'content-length': '100' });
            res.write('ten bytes!', () => req.socket.destroy());
          });
        }),
      ),
    );
    const [a, b] = upstreams as [Upstream, Upstream];
    const gone = await deadUrl();
    balanced = await startBalancer({ targets: [a.url, b.url, gone], strategy: 'round-robin', retries: 0 });
    const registry = new Registry();
    prometheusMetrics(balanced.lb, { registry });

    const ended = endings(balanced.lb);
    expect((await request(balanced.url, { path: '/' })).status).toBe(200); // a
    expect((await request(balanced.url, { method: 'POST', path: '/', body: 'x' })).status).toBe(200); // b
    expect((await request(balanced.url, { path: '/' })).status).toBe(502); // gone
    expect((await request(balanced.url, { path: '/missing' })).status).toBe(404); // a
    await expect(request(balanced.url, { path: '/broken' })).rejects.toThrow(); // b, broken midway
    expect((await request(balanced.url, { method: 'DELETE', path: '/' })).status).toBe(502); // gone
    await ended.count(6);

    const text = await registry.metrics();
    // The six attempts above, one series each, in the counter and in the histogram alike.
    const attempts = [
      [a.url, 'GET', '2xx'],
      [a.url, 'GET', '4xx'],
      [b.url, 'POST', '2xx'],
      [b.url, 'GET', 'error'],
      [gone, 'GET', 'error'],
      [gone, 'DELETE', 'error'],
    ];
    const series = (name: string): string[] =>
      attempts
        .map(([target, method, statusClass]) => `${name}{target="${target}",method="${method}",status_class="${statusClass}"} 1`)
        .sort();
    expect(samples(text, 'elb_requests_total').sort()).toEqual(series('elb_requests_total'));
    expect(samples(text, 'elb_request_duration_seconds_count').sort()).toEqual(series('elb_request_duration_seconds_count'));
    // Every attempt took under 10 s: the largest default bucket holds all of them.
    expect(text).toContain(`elb_request_duration_seconds_bucket{le="10",target="${a.url}",method="GET",status_class="2xx"} 1`);
    expect(samples(text, 'elb_in_flight_requests').sort()).toEqual(
      [a.url, b.url, gone].map((url) => `elb_in_flight_requests{target="${url}"} 0`).sort(),
    );
    expect(samples(text, 'elb_target_up').sort()).toEqual([a.url, b.url, gone].map((url) => `elb_target_up{target="${url}"} 1`).sort());
  });

  it('shows requests in flight at scrape time, and an aborted one as aborted', async () => {
    upstreams = [await startUpstream('a', holder.route('/hold', 'a'))];
    balanced = await startBalancer({ targets: [upstreams[0]!.url] });
    const registry = new Registry();
    prometheusMetrics(balanced.lb, { registry });

    const client = http.get(`${balanced.url}/hold`, { agent: false });
    client.on('error', () => undefined);
    await holder.arrived(1);
    expect(samples(await registry.metrics(), 'elb_in_flight_requests')).toEqual([
      `elb_in_flight_requests{target="${upstreams[0]!.url}"} 1`,
    ]);

    const ended = endings(balanced.lb);
    client.destroy();
    await ended.count(1);
    const [event] = ended.events;
    expect(event).toMatchObject({ result: 'aborted', status: undefined });
    const text = await registry.metrics();
    expect(samples(text, 'elb_requests_total')).toEqual([
      `elb_requests_total{target="${upstreams[0]!.url}",method="GET",status_class="aborted"} 1`,
    ]);
    expect(samples(text, 'elb_in_flight_requests')).toEqual([`elb_in_flight_requests{target="${upstreams[0]!.url}"} 0`]);
  });

  it('reports an ejected target as down, and forgets every series of a removed one', async () => {
    upstreams = await Promise.all([
      startUpstream('bad', (app) => app.use((_req, res) => void res.status(500).send('bad'))),
      startUpstream('good'),
    ]);
    const [bad, good] = upstreams as [Upstream, Upstream];
    balanced = await startBalancer({
      targets: [bad.url, good.url],
      strategy: first,
      retries: 0,
      outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 60_000 },
    });
    const registry = new Registry();
    prometheusMetrics(balanced.lb, { registry, prefix: 'front_' });
    const ejected = nextEvent(balanced.lb, 'targetDown', bad.url);
    expect((await request(balanced.url)).status).toBe(500);
    await ejected;

    expect(samples(await registry.metrics(), 'front_target_up').sort()).toEqual(
      [`front_target_up{target="${bad.url}"} 0`, `front_target_up{target="${good.url}"} 1`].sort(),
    );
    const ended = endings(balanced.lb);
    expect((await request(balanced.url)).status).toBe(200);
    await ended.count(1);
    expect(samples(await registry.metrics(), 'front_requests_total').sort()).toEqual(
      [
        `front_requests_total{target="${bad.url}",method="GET",status_class="5xx"} 1`,
        `front_requests_total{target="${good.url}",method="GET",status_class="2xx"} 1`,
      ].sort(),
    );

    await balanced.lb.removeTarget(bad.url);
    const text = await registry.metrics();
    expect(samples(text, 'front_target_up')).toEqual([`front_target_up{target="${good.url}"} 1`]);
    expect(samples(text, 'front_in_flight_requests')).toEqual([`front_in_flight_requests{target="${good.url}"} 0`]);
    expect(samples(text, 'front_requests_total')).toEqual([`front_requests_total{target="${good.url}",method="GET",status_class="2xx"} 1`]);
    expect(samples(text, 'front_request_duration_seconds_count')).toEqual([
      `front_request_duration_seconds_count{target="${good.url}",method="GET",status_class="2xx"} 1`,
    ]);
    expect(text).not.toContain(bad.url);
  });

  it('stops counting and unregisters on close(), so the same names can be registered again', async () => {
    upstreams = [await startUpstream('a')];
    balanced = await startBalancer({ targets: [upstreams[0]!.url] });
    const registry = new Registry();
    const metrics = prometheusMetrics(balanced.lb, { registry, buckets: [0.1, 1] });
    expect(metrics.names).toEqual(['elb_requests_total', 'elb_request_duration_seconds', 'elb_in_flight_requests', 'elb_target_up']);
    expect(() => prometheusMetrics(balanced!.lb, { registry })).toThrow(
      new TypeError(
        'express-load-balance: prometheusMetrics(): the registry already has elb_requests_total; give each balancer its own "prefix" or "registry"',
      ),
    );
    metrics.close();
    metrics.close();
    expect(await registry.metrics()).toBe('\n');

    const again = prometheusMetrics(balanced.lb, { registry });
    const ended = endings(balanced.lb);
    expect((await request(balanced.url)).status).toBe(200);
    await ended.count(1);
    expect(samples(await registry.metrics(), 'elb_requests_total')).toEqual([
      `elb_requests_total{target="${upstreams[0]!.url}",method="GET",status_class="2xx"} 1`,
    ]);
    again.close();
  });

  it.each`
    options                  | message
    ${null}                  | ${'option "options" must be an object'}
    ${{ registry: {} }}      | ${'option "registry" must be a prom-client Registry'}
    ${{ prefix: '1x_' }}     | ${'option "prefix" must be a string of letters, digits, _ and : that does not start with a digit'}
    ${{ prefix: 'a-b' }}     | ${'option "prefix" must be'}
    ${{ buckets: [] }}       | ${'option "buckets" must be a non-empty array of increasing positive numbers of seconds'}
    ${{ buckets: [1, 0.5] }} | ${'option "buckets" must be'}
    ${{ buckets: [0, 1] }}   | ${'option "buckets" must be'}
  `('refuses $options with a TypeError', async ({ options, message }: { options: object | null; message: string }) => {
    upstreams = [await startUpstream('a')];
    balanced = await startBalancer({ targets: [upstreams[0]!.url] });
    const registry = new Registry();
    const withRegistry = options === null || 'registry' in options ? options : { registry, ...options };
    // Invalid on purpose: the table lists what the options' type would refuse.
    const invalid = withRegistry as PrometheusOptions;
    expect(() => prometheusMetrics(balanced!.lb, invalid)).toThrow(TypeError);
    expect(() => prometheusMetrics(balanced!.lb, invalid)).toThrow(message);
    expect(await registry.metrics()).toBe('\n');
  });

  it('refuses something that is not a balancer', () => {
    expect(() => prometheusMetrics({} as never)).toThrow(
      new TypeError('express-load-balance: prometheusMetrics() takes the middleware loadBalance() returned'),
    );
  });
});
