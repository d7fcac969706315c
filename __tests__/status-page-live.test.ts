import express from 'express';
import type { LoadBalanceMiddleware } from 'express-load-balance';
import { latencyChart, rateChart, roundUp } from '../src/observability/status-charts';
import type { Series } from '../src/observability/history';
import { endings } from './helpers/events';
import { fakeRuntime, type FakeClock } from './helpers/fake-clock';
import { closeAll, listen, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

/** The plot's edges in the SVG's coordinates (status-charts.ts): x from 46 to 234, y from 78 (0) up to 20 (the axis' top). */
const X0 = 46;
const X1 = 234;
const Y0 = 78;
const Y1 = 20;

/** The [x, y] pairs of a chart's line: the polyline's points, or the path's M/L commands. */
function pointsOf(svg: string): Array<[number, number]> {
  const line = /<polyline[^>]* points="([^"]*)"/.exec(svg)?.[1] ?? /<path[^>]* d="([^"]*)"/.exec(svg)?.[1] ?? '';
  return [...line.matchAll(/(-?[\d.]+),(-?[\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])]);
}

/** Where `value` is drawn on an axis up to `top`, rounded as the chart rounds. */
function yOf(value: number, top: number): number {
  return Number((Y0 - (value / top) * (Y0 - Y1)).toFixed(1));
}

/** The value a point's height stands for on an axis up to `top`. */
function valueAt(y: number, top: number): number {
  return Math.round(((Y0 - y) / (Y0 - Y1)) * top * 100) / 100;
}

/** A minute of seconds: `values` at the given seconds, `fill` elsewhere. */
function minute<T>(fill: T, values: Record<number, T>): T[] {
  return Array.from({ length: 60 }, (_, s) => (s in values ? values[s]! : fill));
}

function series(perSecond: number[], p99: Array<number | null> = minute(null, {})): Series {
  return { perSecond, p99 };
}

describe('roundUp: where an axis ends', () => {
  it.each`
    value    | floor | top
    ${0}     | ${1}  | ${1}
    ${0.3}   | ${1}  | ${1}
    ${1}     | ${1}  | ${1}
    ${1.5}   | ${1}  | ${2}
    ${3}     | ${1}  | ${5}
    ${5}     | ${1}  | ${5}
    ${7}     | ${1}  | ${10}
    ${10}    | ${1}  | ${10}
    ${11}    | ${1}  | ${20}
    ${240}   | ${1}  | ${500}
    ${999.9} | ${1}  | ${1000}
    ${1001}  | ${1}  | ${2000}
  `('$value -> $top', ({ value, floor, top }: { value: number; floor: number; top: number }) => {
    expect(roundUp(value, floor)).toBe(top);
  });
});

describe('the requests-per-second chart', () => {
  it('draws one point per second, oldest on the left, on an axis up to a round number', () => {
    const svg = rateChart('All targets', series(minute(0, { 0: 4, 30: 2, 59: 3 })));
    const points = pointsOf(svg);
    expect(points).toHaveLength(60);
    expect(points[0]![0]).toBe(X0);
    expect(points[59]![0]).toBe(X1);
    const xs = points.map(([x]) => x);
    expect(xs).toEqual([...xs].sort((a, b) => a - b));
    expect(points.map(([, y]) => valueAt(y, 5))).toEqual(minute(0, { 0: 4, 30: 2, 59: 3 }));
    expect(svg).toContain('>5/s</text>');
    expect(svg).toContain('<title>All targets: requests per second over the last 60 s, axis up to 5/s, last second 3/s</title>');
  });

  it('shows a quiet minute as a flat line at 0 on an axis up to 1/s', () => {
    const svg = rateChart('x', series(minute(0, {})));
    expect(pointsOf(svg).every(([, y]) => y === Y0)).toBe(true);
    expect(svg).toContain('>1/s</text>');
  });

  it('is an SVG image with no style attribute and no script, which the page’s CSP would block', () => {
    const svg = rateChart('x', series(minute(1_234, {})));
    expect(svg).toMatch(/^<svg class="chart" role="img" [^>]*><title>/);
    expect(svg).not.toMatch(/style=|<script|on\w+=/i);
    expect(svg).toContain('>2,000/s</text>');
  });
});

describe('the p99 latency chart', () => {
  it('draws the seconds with requests, breaks the line where a second had none, and dots a lone second', () => {
    const p99 = minute<number | null>(null, { 10: 3, 11: 4, 12: 40, 20: 8, 59: 2 });
    const svg = latencyChart('a', series(minute(0, {}), p99));
    const points = pointsOf(svg);
    expect(points).toHaveLength(5);
    expect(points.map(([, y]) => y)).toEqual([3, 4, 40, 8, 2].map((ms) => yOf(ms, 50)));
    const d = /<path class="line p99" d="([^"]*)"/.exec(svg)![1]!;
    // Three pieces: seconds 10-12 joined, 20 alone, 59 alone.
    expect(d.match(/M/g)).toHaveLength(3);
    expect(d.match(/L/g)).toHaveLength(2);
    expect(d.match(/h0/g)).toHaveLength(2);
    expect(svg).toContain('>50 ms</text>');
    expect(svg).toContain('with requests (5), axis up to 50 ms</title>');
  });

  it('draws no line for a minute without requests, and labels seconds past 1000 ms as s', () => {
    expect(latencyChart('a', series(minute(0, {}))).includes('<path')).toBe(false);
    expect(latencyChart('a', series(minute(0, {}), minute(null, { 3: 1_500 })))).toContain('>2 s</text>');
  });
});

describe('the status page charts the last minute of real traffic', () => {
  let clock: FakeClock;
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  /** An upstream that takes `ms` of the fake clock to answer. */
  function takes(ms: number): (app: express.Express) => void {
    return (app) =>
      app.use((_req, _res, next) => {
        clock.advance(ms);
        next();
      });
  }

  /** The chart pair of each figure on the page, by caption. */
  async function chartsOnPage(): Promise<Map<string, { rate: string; p99: string }>> {
    const res = await request(balanced!.url, { path: '/status', headers: { accept: 'text/html' } });
    const figures = [
      ...res.text.matchAll(/<figure><figcaption[^>]*>([^<]*)<\/figcaption><div class="pair">(<svg.*?<\/svg>)(<svg.*?<\/svg>)/g),
    ];
    return new Map(figures.map((m) => [m[1]!, { rate: m[2]!, p99: m[3]! }]));
  }

  it('per target and in total: requests in each second and their p99', async () => {
    clock = fakeRuntime().clock;
    upstreams = await Promise.all([startUpstream('a', takes(2)), startUpstream('b', takes(8))]);
    const [a, b] = upstreams as [Upstream, Upstream];
    const app = express();
    const options = { targets: [a.url, b.url], strategy: 'round-robin', retries: 0 } as const;
    balanced = await startBalancer(options, { mount: '/api', app, runtime: fakeRuntime(clock) });
    app.get('/status', balanced.lb.statusHandler());
    const ended = endings(balanced.lb);
    // Round robin: a, b, a, b in second 5, a, b in second 7.
    clock.advance(5_100);
    for (let i = 0; i < 4; i++) await request(balanced.url, { path: '/api' });
    clock.advance(7_100 - clock.now());
    for (let i = 0; i < 2; i++) await request(balanced.url, { path: '/api' });
    await ended.count(6);
    // At 61.5 s the charts cover seconds 1 to 60: second 5 is point 4, second 7 is point 6.
    clock.advance(61_500 - clock.now());

    const charts = await chartsOnPage();
    expect([...charts.keys()]).toEqual(['All targets', a.url, b.url]);
    const perSecond = (svg: string, top: number): number[] => pointsOf(svg).map(([, y]) => valueAt(y, top));
    expect(perSecond(charts.get(a.url)!.rate, 2)).toEqual(minute(0, { 4: 2, 6: 1 }));
    expect(perSecond(charts.get(b.url)!.rate, 2)).toEqual(minute(0, { 4: 2, 6: 1 }));
    expect(perSecond(charts.get('All targets')!.rate, 5)).toEqual(minute(0, { 4: 4, 6: 2 }));
    // p99 only where there were requests: two dots, at the seconds of the requests.
    const ofA = charts.get(a.url)!;
    const rateXs = pointsOf(ofA.rate).map(([x]) => x);
    expect(pointsOf(ofA.p99)).toEqual([
      [rateXs[4], yOf(2, 2)],
      [rateXs[6], yOf(2, 2)],
    ]);
    expect(ofA.p99.match(/h0/g)).toHaveLength(2);
    expect(perSecond(charts.get(b.url)!.p99, 10)).toEqual([8, 8]);
    expect(perSecond(charts.get('All targets')!.p99, 10)).toEqual([8, 8]);

    // A minute later, the traffic has left the charts.
    clock.advance(60_000);
    const later = await chartsOnPage();
    expect(perSecond(later.get('All targets')!.rate, 1).every((v) => v === 0)).toBe(true);
    expect(pointsOf(later.get('All targets')!.p99)).toEqual([]);
  });
});

describe('the page reloads itself: lb.statusHandler({ refresh })', () => {
  let upstream: Upstream | undefined;
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, upstream);
    balanced = undefined;
    upstream = undefined;
  });

  async function lb(): Promise<LoadBalanceMiddleware> {
    upstream = await startUpstream('a');
    balanced = await startBalancer({ targets: [upstream.url] });
    return balanced.lb;
  }

  /** The page's refresh meta tag, or undefined, and the JSON answer's body, from a handler on its own app. */
  async function served(handler: express.RequestHandler): Promise<{ meta: string | undefined; json: string }> {
    const app = express();
    app.get('/status', handler);
    const front = await listen(app);
    try {
      const html = await request(front.url, { path: '/status', headers: { accept: 'text/html' } });
      const json = await request(front.url, { path: '/status' });
      return { meta: /<meta http-equiv="refresh"[^>]*>/.exec(html.text)?.[0], json: json.headers['content-type']! };
    } finally {
      await front.close();
    }
  }

  it.each`
    options               | meta
    ${undefined}          | ${'<meta http-equiv="refresh" content="5">'}
    ${{}}                 | ${'<meta http-equiv="refresh" content="5">'}
    ${{ refresh: 1 }}     | ${'<meta http-equiv="refresh" content="1">'}
    ${{ refresh: 30 }}    | ${'<meta http-equiv="refresh" content="30">'}
    ${{ refresh: false }} | ${undefined}
    ${{ refresh: 0 }}     | ${undefined}
  `('$options -> $meta', async ({ options, meta }: { options: { refresh?: number | false } | undefined; meta: string | undefined }) => {
    const page = await served((await lb()).statusHandler(options));
    expect(page.meta).toBe(meta);
    expect(page.json).toBe('application/json; charset=utf-8');
  });

  it.each`
    options                  | got
    ${{ refresh: 1.5 }}      | ${'got 1.5'}
    ${{ refresh: -1 }}       | ${'got -1'}
    ${{ refresh: Infinity }} | ${'got Infinity'}
    ${{ refresh: NaN }}      | ${'got NaN'}
    ${{ refresh: '5' }}      | ${'got "5"'}
    ${{ refresh: true }}     | ${'got true'}
    ${{ refresh: null }}     | ${'got null'}
  `('refuses $options with a TypeError naming refresh', async ({ options, got }: { options: unknown; got: string }) => {
    const balancer = await lb();
    expect(() => balancer.statusHandler(options as never)).toThrow(TypeError);
    expect(() => balancer.statusHandler(options as never)).toThrow(
      `express-load-balance: statusHandler() argument "options.refresh" must be a whole number of seconds of at least 1, or false (or 0) for no reload, ${got}`,
    );
  });

  it('refuses an unknown setting or a non-object', async () => {
    const balancer = await lb();
    expect(() => balancer.statusHandler({ reload: 5 } as never)).toThrow(
      /statusHandler\(\) argument "options.reload" is not a known setting \(expected refresh\)/,
    );
    expect(() => balancer.statusHandler(5 as never)).toThrow(/statusHandler\(\) argument "options" must be an object \{ refresh \}, got 5/);
  });
});
