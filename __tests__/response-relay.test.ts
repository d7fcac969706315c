import { once } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

const LISTENER_METHODS = ['on', 'once', 'addListener', 'prependListener', 'prependOnceListener'] as const;

/**
 * A middleware in front of the balancer that records every listener added to `res`
 * from then on: what the balancer costs Express's `res`, whose every property store
 * (adding a listener stores `_eventsCount`) runs V8's slow path.
 */
function recordResListeners(added: string[]): RequestHandler {
  return (_req, res, next) => {
    for (const method of LISTENER_METHODS) {
      const original = res[method].bind(res);
      res[method] = ((event: string | symbol, listener: (...args: unknown[]) => void) => {
        added.push(String(event));
        return original(event, listener);
      }) as never;
    }
    next();
  };
}

describe('relaying an answer to the client', () => {
  /** Servers the test started, closed after it. */
  let open: Array<Upstream | Balanced> = [];
  afterEach(async () => {
    await closeAll(...open);
    open = [];
  });

  it('adds one listener to res, `close`, where pipe() would add four more and take them off again', async () => {
    const upstream = await startUpstream('a');
    open.push(upstream);
    const added: string[] = [];
    const balanced = await startBalancer({ targets: [upstream.url] }, { before: [recordResListeners(added)] });
    open.push(balanced);

    const response = await request(balanced.url);

    expect(response.text).toBe('Response from server Test: a');
    expect(added).toEqual(['close']);
  });

  it('adds `drain` to res once, the first time the client reads slower than the upstream sends, and keeps it', async () => {
    const CHUNK = Buffer.alloc(256 * 1024, 0x61);
    const upstream = await startUpstream('big', (app) => {
      app.get('/big', (_req, res) => {
        res.setHeader('content-length', String(CHUNK.length * 16));
        for (let i = 0; i < 16; i++) res.write(CHUNK);
        res.end();
      });
    });
    open.push(upstream);
    let drains = 0;
    const countDrains: RequestHandler = (_req, res, next) => {
      res.on('drain', () => void drains++);
      next();
    };
    const added: string[] = [];
    const balanced = await startBalancer({ targets: [upstream.url] }, { before: [countDrains, recordResListeners(added)] });
    open.push(balanced);

    const response = await request(balanced.url, { path: '/big' });

    expect(response.body.length).toBe(CHUNK.length * 16);
    // 4 MiB through a socket buffer of much less: the relay waited for the client again and again.
    expect(drains).toBeGreaterThan(1);
    expect(added).toEqual(['close', 'drain']);
  });

  it('writes the head once, with the upstream status and reason, through hooks on res.writeHead', async () => {
    const upstream = await startUpstream('made', (app) => {
      app.get('/made', (_req, res) => {
        res.statusMessage = 'Made Here';
        res.status(201).type('text/plain').send('made');
      });
    });
    open.push(upstream);
    // How on-headers (response-time, express-session, compression) hooks in.
    const hooked: Array<{ status: unknown; contentType: unknown }> = [];
    const hook: RequestHandler = (_req, res, next) => {
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => unknown;
      res.writeHead = ((...args: unknown[]) => {
        hooked.push({ status: args[0], contentType: res.getHeader('content-type') });
        res.setHeader('x-hooked', 'yes');
        return writeHead(...args);
      }) as never;
      next();
    };
    const balanced = await startBalancer({ targets: [upstream.url] }, { before: [hook] });
    open.push(balanced);

    const response = await request(balanced.url, { path: '/made' });

    expect(response.status).toBe(201);
    expect(response.statusMessage).toBe('Made Here');
    expect(response.headers['x-hooked']).toBe('yes');
    expect(response.text).toBe('made');
    expect(hooked).toEqual([{ status: 201, contentType: 'text/plain; charset=utf-8' }]);
  });

  it('answers 502 when a hook on res.writeHead throws, instead of letting it escape', async () => {
    const upstream = await startUpstream('a');
    open.push(upstream);
    const failing: RequestHandler = (_req, res, next) => {
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => unknown;
      let thrown = false;
      res.writeHead = ((...args: unknown[]) => {
        if (!thrown) {
          thrown = true;
          throw new Error('hook broke');
        }
        return writeHead(...args);
      }) as never;
      next();
    };
    const balanced = await startBalancer({ targets: [upstream.url] }, { before: [failing] });
    open.push(balanced);

    const response = await request(balanced.url);

    expect(response.status).toBe(502);
    const [error] = balanced.errors as Array<{ code: string; cause: Error }>;
    expect([balanced.errors.length, error!.code, error!.cause.message]).toEqual([1, 'ELB_BAD_GATEWAY', 'hook broke']);
  });

  it('cuts the upstream off when other code ended the response, rather than read the rest into nowhere', async () => {
    let upstreamRes: ServerResponse | undefined;
    const upstream = await startUpstream('slow', (app) => {
      app.get('/slow', (_req, res) => {
        upstreamRes = res;
        res.setHeader('content-length', '20');
        res.write('first half');
      });
    });
    open.push(upstream);
    // A timeout middleware of the kind apps put in front: it ends the response itself.
    let endByApp: (() => void) | undefined;
    const resErrors: unknown[] = [];
    const timeout: RequestHandler = (_req, res, next) => {
      endByApp = () => res.end();
      res.on('error', (error) => resErrors.push(error));
      next();
    };
    const balanced = await startBalancer({ targets: [upstream.url] }, { before: [timeout] });
    open.push(balanced);
    const ended = new Promise<{ result: string }>((resolve) => balanced.lb.on('proxyEnd', resolve));

    const client = await new Promise<IncomingMessage>((resolve, reject) => {
      http.get(`${balanced.url}/slow`, resolve).on('error', reject);
    });
    const [first] = (await once(client, 'data')) as [Buffer];
    expect(first.toString()).toBe('first half');
    endByApp!();
    const upstreamSocket = upstreamRes!.socket!;
    const agent = balanced.lb.axios.defaults.httpAgent as http.Agent;
    const connection = Promise.race([
      once(upstreamSocket, 'close').then(() => 'cut'),
      once(agent, 'free').then(() => 'read to the end and pooled'),
    ]);
    upstreamRes!.end('other half');

    // The rest has nowhere to go: the balancer drops the upstream connection rather than
    // read it (and write it after the end of the response).
    expect(await connection).toBe('cut');
    client.resume();
    expect((await ended).result).toBe('response');
    expect(resErrors).toEqual([]);
  });
});
