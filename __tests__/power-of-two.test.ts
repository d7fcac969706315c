import { Holder } from './helpers/hold';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

const NAMES = ['a', 'b', 'c'];

describe('power-of-two', () => {
  let upstreams: Upstream[] = [];
  let holder = new Holder();
  let balanced: Balanced | undefined;
  afterEach(async () => {
    holder.releaseAll();
    await closeAll(balanced, ...upstreams);
    balanced = undefined;
    upstreams = [];
  });

  async function start(): Promise<string> {
    holder = new Holder();
    upstreams = await Promise.all(NAMES.map((name) => startUpstream(name, holder.route('/slow', name))));
    balanced = await startBalancer({ targets: upstreams.map((u) => u.url), strategy: 'power-of-two' });
    return balanced.url;
  }

  function fastCount(name: string): number {
    return upstreams[NAMES.indexOf(name)]!.seen.filter((r) => r.url === '/fast').length;
  }

  it('sends nothing new to a target holding a slow request: it loses every pair it is drawn in', async () => {
    const url = await start();
    const slow = request(url, { path: '/slow' });
    await holder.arrived(1);
    const [busy] = holder.heldBy;
    for (let i = 0; i < 60; i++) expect((await request(url, { path: '/fast' })).status).toBe(200);
    expect(fastCount(busy!)).toBe(0);
    for (const name of NAMES.filter((n) => n !== busy)) expect(fastCount(name)).toBeGreaterThan(10);
    holder.releaseAll();
    expect((await slow).status).toBe(200);
  });
});
