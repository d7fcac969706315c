import type { Socket } from 'node:net';
import { startRestartable, type RestartableUpstream } from './restartable';

/** One health probe as the upstream saw it. */
export interface Probe {
  url: string;
  connection: string | undefined;
  socket: Socket;
}

/**
 * An upstream whose probe answers the test controls. Requests to `/work` are traffic
 * and answered with its name; anything else is a probe.
 */
export interface ProbedUpstream extends RestartableUpstream {
  readonly name: string;
  /** The status probes get, or 'hang': the probe is accepted and never answered. */
  health: number | 'hang';
  readonly probes: Probe[];
  /** Traffic requests received. */
  traffic: number;
  /** Resolves once `count` probes have arrived in all. */
  probed(count: number): Promise<void>;
}

export async function startProbed(name: string, health: number | 'hang' = 200): Promise<ProbedUpstream> {
  let waiters: Array<{ count: number; resolve: () => void }> = [];
  // The handler reads the settings off the object the test holds (`self`, below), so the test changes them there.
  const upstream = await startRestartable((req, res) => {
    const target = self;
    if (req.url === '/work') {
      target.traffic++;
      res.end(name);
      return;
    }
    target.probes.push({ url: req.url ?? '', connection: req.headers.connection, socket: req.socket });
    waiters = waiters.filter((waiter) => {
      if (target.probes.length < waiter.count) return true;
      waiter.resolve();
      return false;
    });
    if (target.health === 'hang') return;
    res.statusCode = target.health;
    res.end();
  });
  const probes: Probe[] = [];
  const self: ProbedUpstream = Object.assign(upstream, {
    name,
    health,
    probes,
    traffic: 0,
    probed: (count: number) =>
      probes.length >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
  });
  return self;
}
