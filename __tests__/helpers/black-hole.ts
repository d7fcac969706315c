import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';

export interface BlackHole {
  /** A URL whose TCP connect never completes: the SYN goes unanswered. */
  url: string;
  close(): Promise<void>;
}

/**
 * A port on 127.0.0.1 where connecting hangs, as with a host that drops packets: a
 * listener with a backlog of 0 that never accepts, its one queue slot already taken.
 * Node accepts every connection itself, so the listener is a python3 process.
 */
export async function blackHole(): Promise<BlackHole> {
  const listener = spawn(
    'python3',
    [
      '-c',
      'import socket,sys\ns=socket.socket()\ns.bind(("127.0.0.1",0))\ns.listen(0)\nprint(s.getsockname()[1],flush=True)\nsys.stdin.read()',
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const [line] = (await once(listener.stdout, 'data')) as [Buffer];
  const port = Number(line.toString().trim());
  const filler = net.connect(port, '127.0.0.1');
  await once(filler, 'connect');
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      filler.destroy();
      listener.stdin.end();
      if (listener.exitCode === null) await once(listener, 'exit');
    },
  };
}
