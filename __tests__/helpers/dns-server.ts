import { Resolver } from 'node:dns/promises';
import dns2 from 'dns2';
import type { DnsResolver } from 'express-load-balance';

const { Packet } = dns2;

export interface Srv {
  target: string;
  port: number;
  weight?: number;
  priority?: number;
}

/**
 * A DNS server on 127.0.0.1 (UDP, port 0) answering from records the test changes as it
 * runs. A name with no record of the asked type gets an empty NOERROR answer (NODATA).
 */
export class TestDns {
  readonly srv = new Map<string, Srv[]>();
  readonly a = new Map<string, string[]>();
  readonly aaaa = new Map<string, string[]>();
  port = 0;
  private server: dns2.DnsServer | undefined;
  /** Answers held back while paused, sent on resume(). */
  private held: Array<() => void> | undefined;

  /** `127.0.0.1:port`, for the `servers` option. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Listens on a free port, or on the same port again after stop(). */
  async start(): Promise<void> {
    this.server = dns2.createServer({ udp: true, handle: (request, send) => this.answer(request, send) });
    const addresses = await this.server.listen({ udp: { port: this.port, address: '127.0.0.1' } });
    this.port = addresses.udp!.port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  /** Holds every answer until resume(). */
  pause(): void {
    this.held ??= [];
  }

  resume(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const send of held) send();
  }

  private answer(request: dns2.Packet, send: (response: dns2.Packet) => Promise<Buffer>): void {
    const response = Packet.createResponseFromRequest(request);
    const question = request.questions[0]!;
    const name = question.name.toLowerCase();
    const base = { name: question.name, class: Packet.CLASS.IN, ttl: 1 };
    if (question.type === Packet.TYPE.SRV) {
      for (const r of this.srv.get(name) ?? []) {
        response.answers.push({
          ...base,
          type: Packet.TYPE.SRV,
          priority: r.priority ?? 10,
          weight: r.weight ?? 1,
          port: r.port,
          target: r.target,
        } as dns2.Packet.Resource);
      }
    } else if (question.type === Packet.TYPE.A || question.type === Packet.TYPE.AAAA) {
      const table = question.type === Packet.TYPE.A ? this.a : this.aaaa;
      for (const address of table.get(name) ?? []) response.answers.push({ ...base, type: question.type, address } as dns2.Packet.Resource);
    }
    const reply = (): void => void send(response).catch(() => undefined);
    if (this.held !== undefined) this.held.push(reply);
    else reply();
  }
}

export async function startDns(): Promise<TestDns> {
  const dns = new TestDns();
  await dns.start();
  return dns;
}

/** A resolver that also tells when lookups of its name have started; see {@link watchedResolver}. */
export type WatchedResolver = DnsResolver & {
  lookups(count: number): Promise<void>;
  /** Lookups of the name started so far. */
  started(): number;
};

/**
 * A real resolver asking `dns`, which also tells when a lookup of `name` starts (in the
 * same tick as the balancer starts it, so a count is exact at once). The
 * balancer starts a lookup only after it applied the previous answer, so once two have
 * started after a change, the change has been applied: no timers in the tests.
 */
export function watchedResolver(dns: TestDns, name: string): WatchedResolver {
  const real = new Resolver({ timeout: 1_000, tries: 1 });
  real.setServers([dns.address]);
  let started = 0;
  let waiters: Array<{ at: number; resolve: () => void }> = [];
  const start = (hostname: string): void => {
    if (hostname !== name) return;
    started++;
    waiters = waiters.filter((w) => (started >= w.at ? (w.resolve(), false) : true));
  };
  return {
    resolveSrv: (hostname) => (start(hostname), real.resolveSrv(hostname)),
    resolve4: (hostname) => (start(hostname), real.resolve4(hostname)),
    resolve6: (hostname) => real.resolve6(hostname),
    lookups: (count) => new Promise((resolve) => waiters.push({ at: started + count, resolve })),
    started: () => started,
  };
}
