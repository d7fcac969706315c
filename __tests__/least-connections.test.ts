import { Holder } from './helpers/hold';
import { closeAll, request, startBalancer, startUpstream, type Balanced, type SimpleResponse, type Upstream } from './helpers/servers';

const NAMES = ['a', 'b', 'c'];

describe('least-connections', () => {
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
    balanced = await startBalancer({ targets: upstreams.map((u) => u.url), strategy: 'least-connections' });
    return balanced.url;
  }

  function fastCount(name: string): number {
    return upstreams[NAMES.indexOf(name)]!.seen.filter((r) => r.url === '/fast').length;
  }

  it('sends new requests away from a target that is holding a slow one, and back once it is done', async () => {
    const url = await start();
    const slow = request(url, { path: '/slow' });
    await holder.arrived(1);
    const [busy] = holder.heldBy;
    for (let i = 0; i < 10; i++) expect((await request(url, { path: '/fast' })).status).toBe(200);
    expect(fastCount(busy!)).toBe(0);
    // The two idle targets take turns rather than the first one taking everything.
    expect(NAMES.filter((n) => n !== busy).map(fastCount)).toEqual([5, 5]);

    holder.releaseAll();
    expect((await slow).status).toBe(200);
    for (let i = 0; i < 6; i++) await request(url, { path: '/fast' });
    expect(fastCount(busy!)).toBe(2);
  });

  it('spreads concurrent slow requests one per target before doubling up', async () => {
    const url = await start();
    const slow: Array<Promise<SimpleResponse>> = [];
    for (let i = 1; i <= 6; i++) {
      slow.push(request(url, { path: '/slow' }));
      await holder.arrived(i); // the next pick then sees this one in flight
    }
    expect(holder.heldBy.sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    expect(balanced!.lb.targets().map((t) => t.inFlight)).toEqual([2, 2, 2]);
    holder.releaseAll();
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(balanced!.lb.targets().map((t) => t.inFlight)).toEqual([0, 0, 0]);
  });
});
