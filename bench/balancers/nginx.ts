// nginx as a reference point: one worker (a Node balancer uses one core too), upstream
// keep-alive as its docs recommend for proxying (proxy_http_version 1.1, empty Connection).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Contender } from '../contender';
import { childPids } from '../proc-stats';
import type { ProcessGroup } from '../processes';

/** The nginx binary on PATH, or undefined when it is not installed. */
export function findNginx(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function nginxVersion(binary: string): string {
  // nginx prints its version on stderr.
  const { stdout, stderr } = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return `${stderr}${stdout}`.trim() || 'nginx, version unknown';
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function config(dir: string, port: number, upstreams: readonly string[]): string {
  const servers = upstreams.map((url) => `    server ${new URL(url).host};`).join('\n');
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_max_body_size 20m;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream app {
${servers}
    keepalive 32;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
}

export function nginx(group: ProcessGroup, binary: string): Contender {
  return {
    id: 'nginx',
    label: 'nginx, upstream keepalive',
    async start(upstreams) {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'elb-bench-nginx-'));
      // Workers may run as another user (nginx started as root): they must reach the temp dirs.
      chmodSync(dir, 0o755);
      const port = await freePort();
      const file = path.join(dir, 'nginx.conf');
      writeFileSync(file, config(dir, port, upstreams));
      group.onCleanup(() => rmSync(dir, { recursive: true, force: true }));
      const child = group.spawn(binary, ['-p', dir, '-c', file, '-e', path.join(dir, 'error.log')]);
      const cleanUp = (): Promise<void> => group.stop(child);
      for (let i = 0; i < 200 && !(await accepts(port)); i++) {
        if (child.exitCode !== null) break;
        await sleep(50);
      }
      if (child.exitCode !== null || !(await accepts(port))) {
        await cleanUp();
        throw new Error('nginx did not start');
      }
      const pids = [child.pid!, ...childPids(child.pid!)];
      return { urls: [`http://127.0.0.1:${port}`], pids, stop: cleanUp };
    },
  };
}
