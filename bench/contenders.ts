// Everything the load is sent through, in the order each round visits them.
import path from 'node:path';
import { findNginx, nginx } from './balancers/nginx';
import type { Contender } from './contender';
import { readyPort, type ProcessGroup } from './processes';

const BALANCER_ENTRY = path.join(__dirname, 'balancer.ts');

/** The baseline: load straight at the three upstreams, connections spread over them. */
const direct: Contender = {
  id: 'direct',
  label: 'direct to upstreams (no balancer)',
  start: (upstreams) => Promise.resolve({ urls: upstreams, pids: [], stop: async () => {} }),
};

function nodeBalancer(group: ProcessGroup, id: string, label: string, execArgv: readonly string[]): Contender {
  return {
    id,
    label,
    async start(upstreams) {
      const child = group.forkTs(BALANCER_ENTRY, [id, ...upstreams], execArgv);
      const port = await readyPort(child, label);
      return { urls: [`http://127.0.0.1:${port}`], pids: [child.pid!], stop: () => group.stop(child) };
    },
  };
}

export interface ContenderOptions {
  /** Extra Node flags per contender id (`--cpu-prof` for a profile). */
  readonly execArgv: Readonly<Record<string, readonly string[]>>;
  /** A second build of express-load-balance to measure next to this one. */
  readonly candidate: string | undefined;
}

/** The contenders, and a note for each one that cannot run here. */
export function contenders(group: ProcessGroup, { execArgv, candidate }: ContenderOptions): { list: Contender[]; notes: string[] } {
  const node = (id: string, label: string): Contender => nodeBalancer(group, id, label, execArgv[id] ?? []);
  const list = [
    direct,
    node('express-load-balance', 'express-load-balance (defaults)'),
    ...(candidate === undefined ? [] : [node('express-load-balance-candidate', 'express-load-balance, candidate build')]),
    node('express-load-balance-interceptor', 'express-load-balance + a no-op axios interceptor'),
    node('express-load-balance-observed', 'express-load-balance + proxyEnd listener + Prometheus'),
    ...(candidate === undefined
      ? []
      : [node('express-load-balance-candidate-interceptor', 'express-load-balance, candidate build + a no-op axios interceptor')]),
    node('node-http', 'N: bare node:http proxy, keep-alive agent'),
    node('express-node-http', 'E: Express 5 + bare node:http client, keep-alive agent'),
    node('express-undici', 'U: Express 5 + bare undici Pool'),
    node('fastify-reply-from', 'R: fastify + @fastify/reply-from'),
    node('http-proxy-middleware', 'http-proxy-middleware (defaults)'),
    node('http-proxy-middleware-keepalive', 'http-proxy-middleware + keep-alive agent'),
    node('express-http-proxy', 'express-http-proxy'),
    node('tutorial', "the tutorial's balancer"),
  ];
  const notes: string[] = [];
  const binary = findNginx();
  if (binary === undefined) notes.push('nginx is not installed: its row is skipped.');
  else list.push(nginx(group, binary));
  return { list, notes };
}
