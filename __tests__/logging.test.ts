import { format } from 'node:util';
import createDebug from 'debug';
import { closeAll, deadUrl, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

describe('logging through debug', () => {
  let balanced: Balanced | undefined;
  let upstream: Upstream | undefined;
  let lines: string[] = [];
  let enabledBefore = '';
  const logBefore = createDebug.log;

  beforeEach(() => {
    // Whatever DEBUG the test run was started with, start from "nothing enabled".
    enabledBefore = createDebug.disable();
    lines = [];
    // debug hands its log function the format string and the arguments, as console.log takes them.
    createDebug.log = (...args: unknown[]) => void lines.push(format(...args));
  });

  afterEach(async () => {
    await closeAll(balanced, upstream);
    balanced = upstream = undefined;
    createDebug.log = logBefore;
    createDebug.disable();
    if (enabledBefore !== '') createDebug.enable(enabledBefore);
    jest.restoreAllMocks();
  });

  /** Round robin sends the first request to the dead target, so it is retried on the live one. */
  async function retriedRequest(): Promise<{ dead: string; live: string }> {
    upstream = await startUpstream('live');
    const dead = await deadUrl();
    balanced = await startBalancer({ targets: [dead, upstream.url], outlierDetection: false });
    const res = await request(balanced.url, { path: '/users?id=7' });
    expect(res.status).toBe(200);
    return { dead, live: upstream.url };
  }

  it('prints nothing by default, even when a request is retried', async () => {
    const written = jest.spyOn(process.stderr, 'write');
    const consoleCalls = (['log', 'info', 'warn', 'error', 'debug'] as const).map((method) =>
      jest.spyOn(console, method).mockImplementation(() => undefined),
    );
    await retriedRequest();
    expect(lines).toEqual([]);
    expect(written).not.toHaveBeenCalled();
    for (const spy of consoleCalls) expect(spy).not.toHaveBeenCalled();
  });

  it('tells the pick and the retry under express-load-balance:forward once enabled', async () => {
    createDebug.enable('express-load-balance:forward');
    const { dead, live } = await retriedRequest();
    const forward = lines.filter((line) => line.includes('express-load-balance:forward'));
    expect(forward).toEqual([
      expect.stringContaining(`GET /users?id=7 -> ${dead}`),
      expect.stringMatching(new RegExp(`GET /users\\?id=7: retry 1 on ${live} after: ${dead} failed`)),
    ]);
  });

  it('keeps other namespaces quiet when only one is enabled', async () => {
    createDebug.enable('express-load-balance:pool');
    await retriedRequest();
    expect(lines).toEqual([]);
    balanced!.lb.addTarget('http://127.0.0.1:9');
    expect(lines).toEqual([expect.stringContaining('express-load-balance:pool added http://127.0.0.1:9 (weight 1)')]);
  });
});
