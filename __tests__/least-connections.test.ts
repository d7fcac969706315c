import { startHeldBalancer, type HeldBalancer } from './helpers/hold';
import { request, type SimpleResponse } from './helpers/servers';

const NAMES = ['a', 'b', 'c'];

describe('least-connections', () => {
  let set: HeldBalancer | undefined;
  afterEach(async () => {
    await set?.close();
    set = undefined;
  });

  async function start(): Promise<HeldBalancer> {
    set = await startHeldBalancer(NAMES, { strategy: 'least-connections' });
    return set;
  }

  it('sends new requests away from a target that is holding a slow one, and back once it is done', async () => {
    const { url, holder, fastCount } = await start();
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
    const { url, holder, balanced } = await start();
    const slow: Array<Promise<SimpleResponse>> = [];
    for (let i = 1; i <= 6; i++) {
      slow.push(request(url, { path: '/slow' }));
      await holder.arrived(i); // the next pick then sees this one in flight
    }
    expect(holder.heldBy.sort()).toEqual(['a', 'a', 'b', 'b', 'c', 'c']);
    expect(balanced.lb.targets().map((t) => t.inFlight)).toEqual([2, 2, 2]);
    holder.releaseAll();
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(balanced.lb.targets().map((t) => t.inFlight)).toEqual([0, 0, 0]);
  });
});
