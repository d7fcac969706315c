import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Srv } from './dns-server';
import { findExecutable } from './executables';

/** dnsmasq's path; undefined when it is not installed. */
export const DNSMASQ: string | undefined = findExecutable('dnsmasq');

/** What dnsmasq serves: SRV records, and host names with their addresses (A or AAAA by form). */
export interface Zone {
  srv?: Record<string, Srv[]>;
  hosts?: Record<string, string[]>;
}

/** The domain dnsmasq answers for on its own: any other name in it is NXDOMAIN. */
export const DOMAIN = 'test';

/**
 * A real dnsmasq on 127.0.0.1, as operators run it, answering only from its own records
 * (no upstream servers, no /etc/hosts). Names under `.test` that it does not know get
 * NXDOMAIN (`local=/test/`).
 *
 * How the records change, as dnsmasq allows:
 * - host addresses live in a `--hostsdir` file, which dnsmasq watches (inotify) and
 *   re-reads by itself: {@link setHosts} waits for its "read" log line.
 * - SRV records come from `srv-host=` lines in its config file, which it never re-reads
 *   (not even on SIGHUP): {@link restart} starts it again on the same port.
 */
export class Dnsmasq {
  private child: ChildProcess | undefined;
  /** dnsmasq's log (stderr, with `--log-facility=-`), for the waits and for failure messages. */
  private log = '';
  private readonly logWaiters = new Set<() => void>();
  private zone: Required<Zone>;

  private constructor(
    private readonly dir: string,
    readonly port: number,
    zone: Zone,
  ) {
    this.zone = { srv: zone.srv ?? {}, hosts: zone.hosts ?? {} };
  }

  /** `127.0.0.1:port`, for dnsTargets' `servers` option. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private get hostsFile(): string {
    return join(this.dir, 'hosts', 'records');
  }

  static async start(zone: Zone): Promise<Dnsmasq> {
    if (DNSMASQ === undefined) throw new Error('dnsmasq is not installed (apt-get install dnsmasq-base)');
    const dir = await mkdtemp(join(tmpdir(), 'elb-dnsmasq-'));
    // Started as root, dnsmasq drops to an unprivileged user, which must still read the
    // hosts files it watches.
    await chmod(dir, 0o755);
    const server = new Dnsmasq(dir, await freeDnsPort(), zone);
    try {
      await server.launch();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** Replaces the host records; resolves once dnsmasq has read them. */
  async setHosts(hosts: Record<string, string[]>): Promise<void> {
    this.zone = { ...this.zone, hosts };
    const before = this.log.length;
    await this.writeHosts();
    await this.logged(`read ${this.hostsFile} - `, before);
  }

  /** Replaces the SRV records: dnsmasq reads them only at start, so it is started again on the same port. */
  async restart(srv: Record<string, Srv[]>): Promise<void> {
    this.zone = { ...this.zone, srv };
    await this.kill();
    await this.launch();
  }

  /** Stops the process (SIGSTOP): queries get no answer at all, as from a hung server. */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dir, { recursive: true, force: true });
  }

  private async launch(): Promise<void> {
    await writeFile(join(this.dir, 'dnsmasq.conf'), this.config());
    await this.writeHosts();
    this.log = '';
    const child = spawn(
      DNSMASQ!,
      [
        '--keep-in-foreground',
        '--no-daemon',
        `--port=${this.port}`,
        '--listen-address=127.0.0.1',
        '--bind-interfaces',
        '--no-resolv',
        '--no-hosts',
        '--pid-file',
        '--log-facility=-',
        `--conf-file=${join(this.dir, 'dnsmasq.conf')}`,
        `--hostsdir=${join(this.dir, 'hosts')}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.child = child;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      this.log += chunk;
      for (const waiter of [...this.logWaiters]) waiter();
    });
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => reject(new Error(`dnsmasq exited (${signal ?? code}) before it was ready:\n${this.log}`))),
    );
    exited.catch(() => undefined);
    // dnsmasq binds its socket before it reads the hosts files, and logs each one read.
    await Promise.race([this.logged(`read ${this.hostsFile} - `, 0), exited]);
  }

  private async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    // A stopped process would leave SIGTERM pending forever.
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    await exited;
  }

  /** Resolves once `text` appears in the log after offset `from`. */
  private logged(text: string, from: number): Promise<void> {
    return new Promise((resolve) => {
      const check = (): void => {
        if (!this.log.includes(text, from)) return;
        this.logWaiters.delete(check);
        resolve();
      };
      this.logWaiters.add(check);
      check();
    });
  }

  private config(): string {
    const lines = [`local=/${DOMAIN}/`];
    for (const [name, records] of Object.entries(this.zone.srv)) {
      for (const r of records) lines.push(`srv-host=${name},${r.target},${r.port},${r.priority ?? 10},${r.weight ?? 1}`);
    }
    return `${lines.join('\n')}\n`;
  }

  /** Written beside the watched folder, then renamed into it: dnsmasq never reads half a file. */
  private async writeHosts(): Promise<void> {
    const lines = Object.entries(this.zone.hosts).flatMap(([name, addresses]) => addresses.map((address) => `${address} ${name}`));
    // Never empty, so that dnsmasq always logs reading it.
    lines.push(`127.0.0.1 dnsmasq-ready.${DOMAIN}`);
    const staged = join(this.dir, 'records.new');
    await writeFile(staged, `${lines.join('\n')}\n`, { mode: 0o644 });
    await mkdir(join(this.dir, 'hosts'), { recursive: true, mode: 0o755 });
    await rename(staged, this.hostsFile);
  }
}

/**
 * A port on 127.0.0.1 free for UDP and TCP (dnsmasq listens on both), below the kernel's
 * ephemeral range. A port from that range (port 0's) is no good for {@link Dnsmasq.restart}:
 * while dnsmasq is down, any outgoing connection (the tests make many) may take it as
 * its local port, and hold it in TIME-WAIT after it closes, so dnsmasq could not bind it
 * again ("Address already in use", seen on a busy machine).
 */
async function freeDnsPort(): Promise<number> {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  const ceiling = Number.isInteger(low) && low > 11_000 ? low : 32_768;
  for (let tries = 0; tries < 100; tries++) {
    const port = 10_000 + Math.floor(Math.random() * (ceiling - 10_000));
    if (await isFree(port)) return port;
  }
  throw new Error('no free port for dnsmasq below the ephemeral range');
}

/** Whether both a UDP socket and a TCP server can bind 127.0.0.1:port now. */
async function isFree(port: number): Promise<boolean> {
  const udp = createSocket('udp4');
  const tcp = createServer();
  const bound = (target: { once(event: 'error', listener: () => void): unknown }, bind: (done: () => void) => void): Promise<boolean> =>
    new Promise((resolve) => {
      target.once('error', () => resolve(false));
      bind(() => resolve(true));
    });
  const free =
    (await bound(udp, (done) => udp.bind(port, '127.0.0.1', done))) && (await bound(tcp, (done) => tcp.listen(port, '127.0.0.1', done)));
  await new Promise<void>((resolve) => udp.close(() => resolve())).catch(() => undefined);
  if (tcp.listening) await new Promise((resolve) => tcp.close(resolve));
  return free;
}
