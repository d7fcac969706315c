// `npx tsx bench/profile-summary.ts <file.cpuprofile>`: where a balancer's CPU went,
// from a profile written by `BENCH_PROFILE=<id> npm run bench` (node --cpu-prof).
// Self time is grouped by who owns the code: our package, axios, Express and its
// parts, Node's HTTP and stream internals, native code, the garbage collector.
import { readFileSync } from 'node:fs';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}
interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Express 5's own packages and the ones it pulls in for every request. */
const EXPRESS_PARTS =
  /node_modules\/(express|router|body-parser|raw-body|type-is|media-typer|content-type|mime-types|mime-db|qs|finalhandler|on-finished|debug|ms|depd|http-errors|parseurl|statuses|encodeurl|escape-html|vary|cookie|etag|fresh|range-parser|proxy-addr|forwarded|ipaddr\.js|accepts|negotiator|content-disposition|path-to-regexp|setprototypeof|send|serve-static|iconv-lite|bytes|unpipe)\//;

const IDLE = new Set(['(idle)', '(root)']);

function owner({ url, functionName }: CallFrame): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(program)') return 'V8/libuv (program)';
    return 'native (C++ bindings)';
  }
  if (url.includes('node_modules/axios/')) return 'axios';
  if (EXPRESS_PARTS.test(url)) return 'Express';
  if (!url.includes('node_modules/') && (/\/dist\/index\.m?js$/.test(url) || url.includes('/src/'))) {
    return 'express-load-balance';
  }
  if (/node:(_http_|http$|https$|internal\/http)/.test(url)) return 'node:http';
  if (/node:(net$|internal\/stream_base|internal\/streams|stream$|internal\/net)/.test(url)) return 'node:net + streams';
  if (url.startsWith('node:')) return 'node: other';
  if (url.includes('node_modules/')) return `other package: ${/node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? url}`;
  return 'bench harness';
}

function shortUrl(url: string): string {
  return url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(dist|bench|src)\//, '$1/');
}

function percent(part: number, whole: number): string {
  return `${((part / whole) * 100).toFixed(1)} %`;
}

function main(): void {
  const file = process.argv[2];
  if (file === undefined) throw new Error('usage: profile-summary.ts <file.cpuprofile> [top]');
  const top = Number(process.argv[3] ?? 25);
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const keyOf = (frame: CallFrame): string => `${frame.functionName || '(anonymous)'} ${frame.url}:${frame.lineNumber + 1}`;

  const selfByFunction = new Map<string, { frame: CallFrame; micros: number }>();
  const selfByOwner = new Map<string, number>();
  // Time with the function anywhere on the stack (counted once per sample, even when recursive).
  const inclusive = new Map<string, { frame: CallFrame; micros: number }>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id)!.callFrame;
    if (IDLE.has(frame.functionName)) return;
    const micros = profile.timeDeltas[i] ?? 0;
    busy += micros;
    const key = keyOf(frame);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      const caller = byId.get(at)!.callFrame;
      const callerKey = keyOf(caller);
      if (seen.has(callerKey)) continue;
      seen.add(callerKey);
      const total = inclusive.get(callerKey) ?? { frame: caller, micros: 0 };
      total.micros += micros;
      inclusive.set(callerKey, total);
    }
    const entry = selfByFunction.get(key) ?? { frame, micros: 0 };
    entry.micros += micros;
    selfByFunction.set(key, entry);
    const who = owner(frame);
    selfByOwner.set(who, (selfByOwner.get(who) ?? 0) + micros);
  });

  console.log(`Busy (non-idle) time: ${(busy / 1e6).toFixed(2)} s\n`);
  console.log('| owner | self time | share |\n|---|---:|---:|');
  for (const [who, micros] of [...selfByOwner].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${who} | ${(micros / 1e3).toFixed(0)} ms | ${percent(micros, busy)} |`);
  }
  console.log(`\n| function | where | owner | share |\n|---|---|---|---:|`);
  const ranked = [...selfByFunction.values()].sort((a, b) => b.micros - a.micros).slice(0, top);
  for (const { frame, micros } of ranked) {
    const where = frame.url === '' ? '' : `${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    console.log(`| ${frame.functionName || '(anonymous)'} | ${where} | ${owner(frame)} | ${percent(micros, busy)} |`);
  }
  console.log(`\n| function (ours and axios's), with callees | where | share |\n|---|---|---:|`);
  const ownCode = [...inclusive.values()]
    .filter(({ frame }) => ['express-load-balance', 'axios'].includes(owner(frame)))
    .sort((a, b) => b.micros - a.micros)
    .slice(0, top);
  for (const { frame, micros } of ownCode) {
    console.log(`| ${frame.functionName || '(anonymous)'} | ${shortUrl(frame.url)}:${frame.lineNumber + 1} | ${percent(micros, busy)} |`);
  }
}

main();
