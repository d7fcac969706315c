/**
 * The status page's charts: inline SVG drawn on the server, one point per second of
 * the last minute. The page's CSP blocks scripts and `style` attributes, so lines are
 * styled by the page's own (hashed) style sheet through classes, and laid out with SVG
 * geometry attributes, which no CSP governs.
 */
import type { Series } from './history';

/** The drawing's size in CSS pixels, with the plot inside it: labels on the left and below. */
const WIDTH = 240;
const HEIGHT = 96;
const LEFT = 46;
const RIGHT = WIDTH - 6;
const TOP = 20;
const BOTTOM = HEIGHT - 18;

/** The smallest 1, 2 or 5 times a power of ten at or above `value` (at least `floor`), so an axis ends on a round number. */
export function roundUp(value: number, floor: number): number {
  if (!(value > floor)) return floor;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5]) if (value <= step * power) return step * power;
  return 10 * power;
}

function rate(value: number): string {
  return `${value.toLocaleString('en-US')}/s`;
}

function duration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${ms / 1000} s`;
}

/** Where the value of second `i` (of `n`) goes, in the plot's coordinates, rounded to 0.1 px. */
function point(i: number, n: number, value: number, top: number): string {
  const x = LEFT + (n === 1 ? 0 : (i * (RIGHT - LEFT)) / (n - 1));
  const y = BOTTOM - (Math.min(value, top) / top) * (BOTTOM - TOP);
  return `${x.toFixed(1)},${y.toFixed(1)}`;
}

/** The frame every chart shares: its name, grid lines at 0 and at the axis' top with their labels, and the time axis. */
function frame(title: string, label: string, top: string, body: string): string {
  return (
    `<svg class="chart" role="img" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}">` +
    `<title>${title}</title>` +
    `<text class="name" x="${LEFT}" y="11">${label}</text>` +
    `<line class="grid" x1="${LEFT}" y1="${TOP}" x2="${RIGHT}" y2="${TOP}"/>` +
    `<line class="axis" x1="${LEFT}" y1="${BOTTOM}" x2="${RIGHT}" y2="${BOTTOM}"/>` +
    `<text x="${LEFT - 5}" y="${TOP + 4}" text-anchor="end">${top}</text>` +
    `<text x="${LEFT - 5}" y="${BOTTOM + 4}" text-anchor="end">0</text>` +
    `<text x="${LEFT}" y="${HEIGHT - 3}">−60 s</text>` +
    `<text x="${RIGHT}" y="${HEIGHT - 3}" text-anchor="end">now</text>` +
    body +
    '</svg>'
  );
}

/**
 * Requests per second: a line through every second, a second without requests at 0.
 * `name` (escaped already) says whose requests, for the accessible title.
 */
export function rateChart(name: string, series: Series): string {
  const values = series.perSecond;
  const top = roundUp(Math.max(0, ...values), 1);
  const points = values.map((value, i) => point(i, values.length, value, top)).join(' ');
  const last = values.at(-1) ?? 0;
  const title = `${name}: requests per second over the last ${values.length} s, axis up to ${rate(top)}, last second ${rate(last)}`;
  return frame(title, 'requests/s', rate(top), `<polyline class="line rate" points="${points}"/>`);
}

/**
 * p99 latency: a line through the seconds that had requests, broken where a second had
 * none (there is no latency to show, and 0 would read as fast). A second alone between
 * gaps is drawn as a dot: a zero-length segment with round caps.
 */
export function latencyChart(name: string, series: Series): string {
  const values = series.p99;
  let highest = 0;
  for (const value of values) if (value !== null && value > highest) highest = value;
  const top = roundUp(highest, 1);
  let path = '';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (value === null || value === undefined) continue;
    const joined = i > 0 && values[i - 1] !== null;
    const alone = !joined && (i === values.length - 1 || values[i + 1] === null);
    path += `${joined ? 'L' : 'M'}${point(i, values.length, value, top)}${alone ? 'h0' : ''}`;
  }
  const seen = values.filter((value) => value !== null).length;
  const title = `${name}: p99 latency of each of the last ${values.length} s with requests (${seen}), axis up to ${duration(top)}`;
  return frame(title, 'p99 latency', duration(top), path === '' ? '' : `<path class="line p99" d="${path}"/>`);
}
