// The child side of a server process (upstream or balancer): listen, report, stop on request.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Ready, ToChild } from './ipc';

/**
 * Serves `listener` on an ephemeral loopback port, tells the parent the port, and
 * exits when the parent asks or goes away, so no child outlives the bench.
 */
export function serve(listener: http.RequestListener, onStop: () => Promise<void> | void = () => {}): void {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('bench child processes must be started by the bench (no IPC channel)');

  const server = http.createServer(listener);
  const stop = async (): Promise<void> => {
    server.closeAllConnections();
    server.close();
    await onStop();
    // A normal exit, not a signal: `--cpu-prof` writes its profile only then.
    process.exit(0);
  };
  process.on('message', (message: ToChild) => {
    if (message.type === 'stop') void stop();
  });
  process.on('disconnect', () => void stop());

  server.listen(0, '127.0.0.1', () => {
    const ready: Ready = { type: 'ready', port: (server.address() as AddressInfo).port };
    send(ready);
  });
}
