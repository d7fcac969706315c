// What the figures were measured on, printed with every report: absolute figures only
// compare within one machine.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.join(__dirname, '..');

function packageVersion(name: string): string {
  try {
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
    return manifest.version;
  } catch {
    return 'not installed';
  }
}

function commit(): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim();
    return dirty === '' ? sha : `${sha} (src modified)`;
  } catch {
    return 'unknown';
  }
}

export function describeMachine(extra: readonly string[]): string[] {
  const cpus = os.cpus();
  return [
    `CPU: ${cpus[0]?.model ?? 'unknown'}, ${os.availableParallelism()} cores available (nproc)`,
    `Memory: ${Math.round(os.totalmem() / 2 ** 30)} GiB; ${os.type()} ${os.release()}`,
    `Node ${process.version}; express ${packageVersion('express')}, axios ${packageVersion('axios')}, ` +
      `http-proxy-middleware ${packageVersion('http-proxy-middleware')}, express-http-proxy ${packageVersion('express-http-proxy')}, ` +
      `undici ${packageVersion('undici')}, fastify ${packageVersion('fastify')}, @fastify/reply-from ${packageVersion('@fastify/reply-from')}, ` +
      `autocannon ${packageVersion('autocannon')}`,
    `express-load-balance: built package (dist) from commit ${commit()}`,
    ...extra,
  ];
}
