import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { StatusPageConfig } from '../options/status-page';
import type { BalancerHistory, Series } from './history';
import type { BalancerStats, TargetStats } from './stats';
import { latencyChart, rateChart } from './status-charts';

const STYLE = `
:root { color-scheme: light dark; --line: #8884; --muted: #888; --up: #1a7f37; --down: #cf222e; --ejected: #9a6700; --resting: #0969da; --p99: #8250df; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 72rem; margin: 0 auto; padding: 1.5rem; }
h1 { font-size: 1.25rem; margin: 0 0 .25rem; }
p { margin: .25rem 0 1rem; color: var(--muted); }
.panic { color: var(--down); font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { padding: .45rem .6rem; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { font-weight: 600; font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
th:first-child, td:first-child, th:nth-child(2), td:nth-child(2) { text-align: left; }
td:first-child { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; white-space: normal; word-break: break-all; }
td { font-variant-numeric: tabular-nums; }
meter { width: 5rem; vertical-align: middle; margin-right: .4rem; }
.state { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-size: .8rem; font-weight: 600; color: #fff; }
.up { background: var(--up); } .down { background: var(--down); } .ejected { background: var(--ejected); } .resting { background: var(--resting); }
.level { color: var(--muted); font-size: .8rem; margin-left: .4rem; }
tfoot td { font-weight: 600; border-bottom: 0; }
tfoot td:first-child { font-family: inherit; }
h2 { font-size: 1rem; margin: 1.75rem 0 .25rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(31rem, 1fr)); gap: 1rem 1.5rem; }
figure { margin: 0; min-width: 0; }
figcaption { font: 600 .8rem/1.4 ui-monospace, SFMono-Regular, Menlo, monospace; word-break: break-all; border-bottom: 1px solid var(--line); padding-bottom: .2rem; margin-bottom: .3rem; }
figcaption.total { font-family: inherit; }
.pair { display: flex; flex-wrap: wrap; justify-content: space-between; gap: .75rem; }
.chart { max-width: 100%; height: auto; }
.chart text { font-size: 10px; fill: var(--muted); }
.chart .name { font-size: 11px; font-weight: 600; }
.chart .grid { stroke: var(--line); stroke-dasharray: 2 3; }
.chart .axis { stroke: var(--line); }
.chart .line { fill: none; stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
.chart .rate { stroke: var(--resting); }
.chart .p99 { stroke: var(--p99); stroke-width: 2; }
`;

/**
 * The page allows exactly this style sheet and nothing else (no scripts, images or
 * fetches), so even a target URL that slipped past escaping could not run anything.
 */
const CSP = `default-src 'none'; style-src 'sha256-${createHash('sha256').update(STYLE).digest('base64')}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const SPECIAL = /[&<>"']/g;

/** Text for HTML content or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(SPECIAL, (char) => ESCAPES[char]!);
}

function ms(value: number | null): string {
  if (value === null) return '–';
  if (value < 10) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${value.toFixed(1)} ms`;
  return `${(value / 1000).toFixed(2)} s`;
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

/** 'up', or why not: active health checks ('down'), outlier detection ('ejected') or a `Retry-After` ('resting'). */
function stateOf(target: TargetStats): 'up' | 'down' | 'ejected' | 'resting' {
  if (!target.healthy) return 'down';
  if (target.ejected) return 'ejected';
  return target.resting ? 'resting' : 'up';
}

/** The weight, and below it during slow start, what the target gets now. */
function weightOf(target: TargetStats): string {
  if (target.effectiveWeight >= target.weight) return count(target.weight);
  return `${target.effectiveWeight.toFixed(2)} of ${count(target.weight)}`;
}

function row(target: TargetStats): string {
  const state = stateOf(target);
  const { recent } = target;
  const level = target.priority === 0 ? '' : `<span class="level">level ${target.priority}</span>`;
  return (
    `<tr><td>${escapeHtml(target.url)}</td><td><span class="state ${state}">${state}</span>${level}</td>` +
    `<td>${weightOf(target)}</td>` +
    `<td><meter min="0" max="1" value="${recent.share}"></meter>${(recent.share * 100).toFixed(1)} %</td>` +
    `<td>${count(target.inFlight)}</td><td>${count(target.requests)}</td><td>${count(target.failures)}</td>` +
    `<td>${ms(recent.latency.p50)}</td><td>${ms(recent.latency.p99)}</td></tr>`
  );
}

/** A chart pair: requests per second and p99 latency of one target, or of all. */
function figure(caption: string, series: Series, total = false): string {
  return (
    `<figure><figcaption${total ? ' class="total"' : ''}>${caption}</figcaption>` +
    `<div class="pair">${rateChart(caption, series)}${latencyChart(caption, series)}</div></figure>`
  );
}

function charts(stats: BalancerStats, history: BalancerHistory): string {
  const each = stats.targets.map((target, i) => figure(escapeHtml(target.url), history.targets[i]!));
  return (
    `<h2>Last 60 seconds</h2>\n<p>Requests per second and p99 latency, one point per second; p99 has a gap where a second had no requests.</p>\n` +
    `<div class="charts">\n${[figure('All targets', history.total, true), ...each].join('\n')}\n</div>\n`
  );
}

/** The HTML status page: one table row per target, totals at the foot, then the charts. */
function renderStatusPage(stats: BalancerStats, history: BalancerHistory, config: StatusPageConfig): string {
  const { totals } = stats;
  const seconds = Math.round(stats.windowMs / 1000);
  const { queue } = stats;
  const waiting =
    queue === undefined
      ? ''
      : `<p class="queue">Queue: ${count(queue.length)} of ${count(queue.size)} waiting; ${count(queue.recent.requests)} waits ended in the last ${seconds} s (${count(queue.recent.failures)} not served), p50 ${ms(queue.recent.latency.p50)}, p99 ${ms(queue.recent.latency.p99)}.</p>\n`;
  const { mirror } = stats;
  const mirrored =
    mirror === undefined
      ? ''
      : `<p class="mirror">Mirror (${mirror.targets.map(escapeHtml).join(', ')}): ${count(mirror.sent)} copies sent, ${count(mirror.failed)} failed, ${count(mirror.skipped)} skipped, ${count(mirror.inFlight)} in flight.</p>\n`;
  const { hedge } = stats;
  const hedging =
    hedge === undefined
      ? ''
      : `<p class="hedge">Hedging: ${count(hedge.sent)} hedges sent, ${count(hedge.won)} answered first; delay ${hedge.delayMs === null ? 'not yet known (fewer than 50 attempts)' : ms(hedge.delayMs)}.</p>\n`;
  const panic = stats.panic ? '<p class="panic">No target is usable: requests go to all of them anyway (panic mode).</p>' : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${config.refresh === undefined ? '' : `<meta http-equiv="refresh" content="${config.refresh}">\n`}<title>Upstream status</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>Upstream status</h1>
<p>${totals.usable} of ${totals.targets} targets up. Share, p50 and p99 cover the attempts that ended in the last ${seconds} s (${count(totals.recent.requests)}).</p>
${panic}${waiting}${mirrored}${hedging}<table>
<thead><tr><th>Target</th><th>State</th><th>Weight</th><th>Share</th><th>In flight</th><th>Requests</th><th>Failures</th><th>p50</th><th>p99</th></tr></thead>
<tbody>
${stats.targets.map(row).join('\n')}
</tbody>
<tfoot><tr><td>Total</td><td></td><td></td><td></td><td>${count(totals.inFlight)}</td><td>${count(totals.requests)}</td><td>${count(totals.failures)}</td><td>${ms(totals.recent.latency.p50)}</td><td>${ms(totals.recent.latency.p99)}</td></tr></tfoot>
</table>
${charts(stats, history)}</main>
</body>
</html>
`;
}

/**
 * An Express handler answering GET and HEAD with the balancer's stats: JSON (what
 * `lb.stats()` returns) by default, a small HTML page when the client prefers
 * `text/html`, as a browser does, with charts of the last minute from `readHistory`
 * (read only then). Other methods pass to `next()`.
 */
export function statusHandler(read: () => BalancerStats, readHistory: () => BalancerHistory, config: StatusPageConfig): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      next();
      return;
    }
    const stats = read();
    res.vary('Accept');
    res.set('Cache-Control', 'no-store');
    if (req.accepts(['json', 'html']) === 'html') {
      res.set('Content-Security-Policy', CSP);
      res.set('X-Content-Type-Options', 'nosniff');
      res.type('html').send(renderStatusPage(stats, readHistory(), config));
    } else {
      res.json(stats);
    }
  };
}
