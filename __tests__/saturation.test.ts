import { SaturatedError } from 'express-load-balance';
import { startHeldBalancer, type HeldBalancer, type Holder } from './helpers/hold';
import { first, request, type Balanced, type SimpleResponse, type Upstream } from './helpers/servers';

describe('maxInFlightPerTarget', () => {
  let set: HeldBalancer;
  let holder: Holder;
  let upstreams: Upstream[];
  let balanced: Balanced;

  beforeEach(async () => {
    set = await startHeldBalancer(['a', 'b'], { strategy: first, maxInFlightPerTarget: 1 });
    ({ holder, upstreams, balanced } = set);
  });
  afterEach(() => set.close());

  it('sends a request to a target with room when the pick is full', async () => {
    const held = request(balanced.url, { path: '/slow' });
    await holder.arrived(1);
    const second = request(balanced.url, { path: '/slow' });
    await holder.arrived(2);
    expect(holder.heldBy).toEqual(['a', 'b']);
    holder.releaseAll();
    expect((await Promise.all([held, second])).map((r) => r.text)).toEqual(['released by a', 'released by b']);
  });

  it('answers 503 with Retry-After at once when every target is full, and serves again once one has room', async () => {
    const held: Array<Promise<SimpleResponse>> = [request(balanced.url, { path: '/slow' })];
    await holder.arrived(1);
    held.push(request(balanced.url, { path: '/slow' }));
    await holder.arrived(2);

    const refused = await request(balanced.url, { path: '/fast' });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(balanced.errors[0]).toBeInstanceOf(SaturatedError);
    expect((balanced.errors[0] as SaturatedError).code).toBe('ELB_SATURATED');
    // Nothing was queued: the upstreams saw only the two held requests.
    expect(upstreams.map((u) => u.seen.length)).toEqual([1, 1]);

    holder.releaseOne();
    await held[0];
    expect((await request(balanced.url, { path: '/fast' })).text).toBe('Response from server Test: a');
    holder.releaseAll();
    await Promise.all(held);
    expect(balanced.lb.targets().map((t) => t.inFlight)).toEqual([0, 0]);
  });
});
