import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express, { type Express } from 'express';
import express4 from 'express4';
import { chromium, type Browser } from 'playwright-core';
import type { TargetHealthEvent } from 'express-load-balance';
import type { Runtime } from '../src/clock';
import { escapeHtml } from '../src/observability/status-page';
import { fakeRuntime, type FakeClock } from './helpers/fake-clock';
import { endings } from './helpers/events';
import { closeAll, listen, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

const CHROMIUM = '/usr/bin/chromium';
/** The README's picture of the page, rewritten by the 10-target test when UPDATE_SCREENSHOT=1. */
const SCREENSHOT = path.join(__dirname, '..', 'docs', 'status-page.png');
const HAS_CHROMIUM = fs.existsSync(CHROMIUM);

/** A balancer at /api with its status page at /status, on one app. */
async function withStatusPage(
  targets: string[],
  options: Record<string, unknown> = {},
  app: Express = express(),
  { runtime, refresh = false }: { runtime?: Runtime; refresh?: number | false } = {},
): Promise<Balanced> {
  const balanced = await startBalancer({ targets, retries: 0, ...options }, { mount: '/api', app, runtime });
  // Routes added after the balancer still win for /status: the balancer only sees /api.
  // No reload by default: one in the middle of a browser test would race its reads.
  app.get('/status', balanced.lb.statusHandler({ refresh }));
  return balanced;
}

/** Resolves when `url` goes down for `reason`. */
function downFor(balanced: Balanced, url: string, reason: TargetHealthEvent['reason']): Promise<void> {
  return new Promise((resolve) => {
    balanced.lb.on('targetDown', (event) => {
      if (event.target.url === url && event.reason === reason) resolve();
    });
  });
}

describe('escapeHtml', () => {
  it.each`
    text                             | escaped
    ${'http://127.0.0.1:3000/v1'}    | ${'http://127.0.0.1:3000/v1'}
    ${`<script>alert("x")</script>`} | ${'&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'}
    ${`/a&b'c`}                      | ${'/a&amp;b&#39;c'}
    ${'&amp;'}                       | ${'&amp;amp;'}
  `('$text -> $escaped', ({ text, escaped }: { text: string; escaped: string }) => {
    expect(escapeHtml(text)).toBe(escaped);
  });
});

describe('lb.statusHandler()', () => {
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  it.each([
    ['no Accept header', {}],
    ['Accept: */*', { accept: '*/*' }],
    ['Accept: application/json', { accept: 'application/json' }],
    ['a client preferring JSON to HTML', { accept: 'text/html;q=0.5, application/json' }],
  ])('answers JSON to %s', async (_case, headers) => {
    upstreams = [await startUpstream('a')];
    balanced = await withStatusPage([upstreams[0]!.url]);
    expect((await request(balanced.url, { path: '/api/' })).status).toBe(200);
    const res = await request(balanced.url, { path: '/status', headers });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers.vary).toBe('Accept');
    const body = JSON.parse(res.text) as unknown;
    expect(body).toMatchObject({
      windowMs: 60_000,
      panic: false,
      targets: [{ url: upstreams[0]!.url, healthy: true, ejected: false, requests: 1, recent: { share: 1 } }],
      totals: { targets: 1, usable: 1 },
    });
  });

  it('answers a browser with an HTML page that escapes target URLs and allows no scripts', async () => {
    upstreams = [await startUpstream('a')];
    const odd = `${upstreams[0]!.url}/a&b'c`;
    balanced = await withStatusPage([odd]);
    const res = await request(balanced.url, {
      path: '/status',
      headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-security-policy']).toMatch(/^default-src 'none'; style-src 'sha256-[A-Za-z0-9+/]+={0,2}';/);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.text).toContain(`<td>${upstreams[0]!.url}/a&amp;b&#39;c</td>`);
    expect(res.text).not.toContain("a&b'c");
    expect(res.text).not.toMatch(/<script|<link|<img|src=|href=/i);
  });

  it('negotiates the same on Express 4', async () => {
    upstreams = [await startUpstream('a')];
    balanced = await withStatusPage([upstreams[0]!.url], {}, express4());
    const json = await request(balanced.url, { path: '/status' });
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(json.text)).toMatchObject({ targets: [{ url: upstreams[0]!.url }] });
    const html = await request(balanced.url, { path: '/status', headers: { accept: 'text/html' } });
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.text).toContain(`<td>${upstreams[0]!.url}</td>`);
  });

  it('answers HEAD without a body, and passes other methods on', async () => {
    upstreams = [await startUpstream('a')];
    balanced = await withStatusPage([upstreams[0]!.url]);
    const head = await request(balanced.url, { method: 'HEAD', path: '/status' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    // Mounted with app.get, POST never reaches it; mounted with app.use, it must step aside.
    const app = express();
    app.use('/any', balanced.lb.statusHandler());
    app.use((_req, res) => void res.status(404).send('nobody'));
    const other = await listen(app);
    try {
      expect((await request(other.url, { method: 'POST', path: '/any' })).text).toBe('nobody');
      expect((await request(other.url, { method: 'GET', path: '/any' })).status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

// Skipped on a developer's machine without Chromium; on CI (.ci/run installs it) a missing
// Chromium must fail the run, never pass it quietly.
const inChromium = HAS_CHROMIUM || process.env.CI === 'true' ? describe : describe.skip;
if (!HAS_CHROMIUM && process.env.CI !== 'true') {
  console.warn(`status page browser test skipped: ${CHROMIUM} is not installed (apt-get install chromium)`);
}

inChromium(`the status page in a real Chromium${HAS_CHROMIUM ? '' : ` (skipped: ${CHROMIUM} is not installed)`}`, () => {
  let browser: Browser | undefined;
  let upstreams: Upstream[] = [];
  let balanced: Balanced | undefined;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  it('shows each target with its state, share and latency, styled, with nothing blocked', async () => {
    upstreams = await Promise.all([
      startUpstream('up'),
      startUpstream('sick', (app) => app.get('/health', (_req, res) => void res.status(503).send('sick'))),
      startUpstream('failing', (app) => app.get('/api-fail', (_req, res) => void res.status(500).send('fail'))),
    ]);
    const [up, sick, failing] = upstreams as [Upstream, Upstream, Upstream];
    const failingTarget = `${failing.url}/api-fail`;
    balanced = await withStatusPage([up.url, sick.url, failingTarget], {
      strategy: 'round-robin',
      healthCheck: { interval: 20, unhealthyThreshold: 1 },
      outlierDetection: { consecutiveFailures: 1, baseEjectionTime: 60_000 },
    });
    await downFor(balanced, sick.url, 'health-check');
    const ejected = downFor(balanced, failingTarget, 'outlier');
    // Round robin over the two usable targets: the failing one is ejected on its first 500.
    let answers = 0;
    for (let i = 0; i < 4 && balanced.lb.stats().totals.usable > 1; i++) {
      await request(balanced.url, { path: '/api' });
      answers++;
    }
    await ejected;
    expect(answers).toBeGreaterThan(0);

    const page = await browser!.newPage({ viewport: { width: 1100, height: 420 } });
    const problems: string[] = [];
    page.on('console', (message) => problems.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('request', (req) => {
      if (!req.url().startsWith(balanced!.url)) problems.push(`fetched ${req.url()}`);
    });
    try {
      const response = await page.goto(`${balanced.url}/status`);
      expect(response?.status()).toBe(200);
      expect(await page.title()).toBe('Upstream status');

      const rows = page.locator('tbody tr');
      expect(await rows.count()).toBe(3);
      const cells = await Promise.all([0, 1, 2].map((i) => rows.nth(i).locator('td').allTextContents()));
      expect(cells.map((row) => row.slice(0, 2))).toEqual([
        [up.url, 'up'],
        [sick.url, 'down'],
        [failingTarget, 'ejected'],
      ]);
      // Every column is filled: weight, share, in flight, requests, failures, p50, p99.
      for (const row of cells) expect(row).toHaveLength(9);
      // The failing target's one request; a 500 passed on to the client is not a failed attempt.
      expect(cells[2]!.slice(4, 7)).toEqual(['0', '1', '0']);
      expect(cells[2]![7]).toMatch(/ ms$/);
      expect(await page.locator('tfoot td').first().textContent()).toBe('Total');
      expect(await page.locator('main > p').first().textContent()).toMatch(/^1 of 3 targets up\./);

      // The style sheet ran, so the CSP hash matches it: states are coloured badges.
      const badge = (state: string): Promise<string> =>
        page.evaluate<string>(`getComputedStyle(document.querySelector('.state.${state}')).backgroundColor`);
      expect(await badge('up')).toBe('rgb(26, 127, 55)');
      expect(await badge('down')).toBe('rgb(207, 34, 46)');
      expect(await badge('ejected')).toBe('rgb(154, 103, 0)');
      expect(problems).toEqual([]);

      const shot = path.join(os.tmpdir(), 'express-load-balance-status-page.png');
      await page.screenshot({ path: shot, fullPage: true });
      expect(fs.statSync(shot).size).toBeGreaterThan(1000);
    } finally {
      await page.close();
    }
  });

  /**
   * A minute of traffic on the fake clock: `perSecond(s)` requests in second s, one after
   * another, each taking the fake time its upstream moves the clock by; then the clock
   * goes into second 60, so the charts show seconds 0 to 59.
   */
  async function minuteOfTraffic(clock: FakeClock, url: string, perSecond: (second: number) => number): Promise<number> {
    let sent = 0;
    for (let second = 0; second < 60; second++) {
      clock.advance(second * 1000 + 100 - clock.now());
      for (let i = 0; i < perSecond(second); i++, sent++) expect((await request(url, { path: '/api' })).status).toBe(200);
    }
    clock.advance(60_000 + 500 - clock.now());
    return sent;
  }

  it('charts 10 targets and the total over the last minute, within a 1280 px window', async () => {
    const clock = fakeRuntime().clock;
    // Target i answers in 2 + i ms plus a few ms that vary, every 7th request of its own 30 ms more;
    // it notes the seconds it served in.
    const servedIn = Array.from({ length: 10 }, () => new Set<number>());
    upstreams = await Promise.all(
      servedIn.map((seconds, i) =>
        startUpstream(`u${i}`, (app) =>
          app.use((_req, _res, next) => {
            seconds.add(Math.floor(clock.now() / 1000));
            clock.advance(2 + i + (seconds.size % 5) + (seconds.size % 7 === 0 ? 30 : 0));
            next();
          }),
        ),
      ),
    );
    const targets = upstreams.map((u) => `${u.url}/v1`);
    balanced = await withStatusPage(targets, { strategy: 'round-robin' }, express(), { runtime: fakeRuntime(clock), refresh: 30 });
    const ended = endings(balanced.lb);
    // 6 to 14 requests a second in a wave (about 550 in all), and none from second 40 to 44: the total's p99 has a gap there.
    const perSecond = (second: number): number =>
      second >= 40 && second < 45 ? 0 : 10 + Math.round(4 * Math.sin((second * Math.PI) / 10));
    const sent = await minuteOfTraffic(clock, balanced.url, perSecond);
    await ended.count(sent);

    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    const problems: string[] = [];
    page.on('console', (message) => problems.push(`${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => problems.push(error.message));
    try {
      expect((await page.goto(`${balanced.url}/status`))?.status()).toBe(200);
      expect(await page.locator('meta[http-equiv="refresh"]').getAttribute('content')).toBe('30');
      expect(await page.locator('tbody tr').count()).toBe(10);
      expect(await page.locator('figure').count()).toBe(11);
      // Every chart has a line through each of the last 60 seconds...
      const rates = await page.evaluate<number[]>(
        `[...document.querySelectorAll('svg.chart polyline')].map((line) => line.points.numberOfItems)`,
      );
      expect(rates).toEqual(Array(11).fill(60));
      // ...and p99 a point for each second with requests: 55 in total, and for each target the seconds it served in.
      const p99s = await page.evaluate<number[]>(
        `[...document.querySelectorAll('svg.chart path.p99')].map((line) => line.getAttribute('d').match(/[ML]/g).length)`,
      );
      expect(p99s).toEqual([55, ...servedIn.map((seconds) => seconds.size)]);
      expect(Math.min(...p99s)).toBeGreaterThan(20);
      // Each chart is named for people using a screen reader.
      const titles = await page.locator('svg.chart > title').allTextContents();
      expect(titles).toHaveLength(22);
      expect(titles[0]).toBe('All targets: requests per second over the last 60 s, axis up to 20/s, last second 9/s');
      // The charts are drawn at their size and styled by the page's own style sheet.
      const box = await page.locator('svg.chart').first().boundingBox();
      expect(box).toMatchObject({ width: 240, height: 96 });
      const stroke = await page.evaluate<string>(`getComputedStyle(document.querySelector('svg.chart polyline')).stroke`);
      expect(stroke).toBe('rgb(9, 105, 218)');
      // Nothing sticks out sideways.
      expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(1280);
      expect(problems).toEqual([]);
      if (process.env.UPDATE_SCREENSHOT === '1') {
        fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });
      }
    } finally {
      await page.close();
    }
    // About 550 requests, one after another: on a busy 2-core machine that takes a while.
  }, 60_000);
});
