// The parent side of the child processes: start them, wait until they listen, end every one.
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import type { FromChild } from './ipc';

/**
 * tsx's require hook, not its `--import` loader: the loader runs on a thread of its own
 * that would add some 25 MB to every Node balancer's RSS; the hook adds about 5 MB.
 */
const TS_HOOK = require.resolve('tsx/cjs');

/** How long a child may take to exit after being asked before it is killed. */
const STOP_GRACE_MS = 5_000;

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Every process the bench starts goes through one group, so that a normal end,
 * an error and Ctrl-C all end the same set of processes.
 */
export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();
  private readonly cleanups: (() => void)[] = [];
  /** Where the children's stdout and stderr go: a proxy that logs every 413 would flood the terminal. */
  private readonly log: number;

  constructor(readonly logFile: string) {
    mkdirSync(path.dirname(logFile), { recursive: true });
    this.log = openSync(logFile, 'w');
    this.onCleanup(() => closeSync(this.log));
  }

  /** Forks a TypeScript entry point under tsx, with an IPC channel. */
  forkTs(file: string, args: readonly string[] = [], execArgv: readonly string[] = []): ChildProcess {
    const child = fork(file, args, {
      execArgv: ['--require', TS_HOOK, ...execArgv],
      stdio: ['ignore', this.log, this.log, 'ipc'],
    });
    return this.track(child);
  }

  /** Spawns a program that is not Node (nginx). */
  spawn(command: string, args: readonly string[]): ChildProcess {
    return this.track(spawn(command, args, { stdio: ['ignore', this.log, this.log] }));
  }

  /** Asks a child to stop (IPC `stop`, else SIGTERM); kills it if it has not exited in time. */
  async stop(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    // The channel may close between the check and the write (a child that is already
    // exiting): then a signal does the asking.
    if (child.connected) child.send({ type: 'stop' }, (err) => err && child.kill('SIGTERM'));
    else child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited(child);
    clearTimeout(timer);
  }

  /** Registers synchronous clean-up (temporary files) to run once the processes are gone. */
  onCleanup(cleanup: () => void): void {
    this.cleanups.push(cleanup);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.children].map((child) => this.stop(child)));
    this.runCleanups();
  }

  /** Last resort on process exit, when nothing can be awaited any more. */
  killAllNow(): void {
    for (const child of this.children) child.kill('SIGKILL');
    this.runCleanups();
  }

  private runCleanups(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  private track(child: ChildProcess): ChildProcess {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }
}

/** Resolves with the port a server child reports; rejects if it exits or stays silent. */
export function readyPort(child: ChildProcess, what: string, timeoutMs = 20_000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => finish(new Error(`${what} did not start within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (message: FromChild): void => {
      if (message.type === 'ready') finish(undefined, message.port);
    };
    const onExit = (code: number | null): void => finish(new Error(`${what} exited (code ${code}) before listening`));
    function finish(err: Error | undefined, port?: number): void {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(port!);
    }
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
