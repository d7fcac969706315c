import { startHeldBalancer, type HeldBalancer } from './helpers/hold';
import { request } from './helpers/servers';

const NAMES = ['a', 'b', 'c'];

describe('power-of-two', () => {
  let set: HeldBalancer | undefined;
  afterEach(async () => {
    await set?.close();
    set = undefined;
  });

  it('sends nothing new to a target holding a slow request: it loses every pair it is drawn in', async () => {
    set = await startHeldBalancer(NAMES, { strategy: 'power-of-two' });
    const { url, holder, fastCount } = set;
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
