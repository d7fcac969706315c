import { closeAll, request, startBalancer, startUpstream, type Balanced, type Upstream } from './helpers/servers';

// With nothing on lb.axios, requests skip axios's pipeline; anything that axios would
// apply must still be applied, whenever and however it was set.
describe('what lb.axios carries reaches the upstream, on every path', () => {
  let upstream: Upstream;
  let balanced: Balanced | undefined;
  beforeEach(async () => {
    upstream = await startUpstream('a');
  });
  afterEach(async () => {
    await closeAll(balanced, upstream);
    balanced = undefined;
  });

  it('sends default headers given in the axios option, with no interceptor', async () => {
    balanced = await startBalancer({ targets: [upstream.url], axios: { headers: { common: { 'x-default': 'config' } } } });
    await request(balanced.url);
    expect(upstream.seen[0]!.headers['x-default']).toBe('config');
  });

  it('sends default headers set on lb.axios while it runs, per method too', async () => {
    balanced = await startBalancer({ targets: [upstream.url] });
    await request(balanced.url);
    balanced.lb.axios.defaults.headers.common['x-later'] = 'common';
    balanced.lb.axios.defaults.headers.post['x-post-only'] = 'post';
    await request(balanced.url);
    await request(balanced.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
    expect(upstream.seen.map((r) => [r.headers['x-later'], r.headers['x-post-only']])).toEqual([
      [undefined, undefined],
      ['common', undefined],
      ['common', 'post'],
    ]);
  });

  it('goes back to the short path once an interceptor is ejected, still without axios defaults', async () => {
    balanced = await startBalancer({ targets: [upstream.url] });
    const id = balanced.lb.axios.interceptors.request.use((config) => {
      config.headers.set('x-intercepted', '1');
      return config;
    });
    await request(balanced.url, { method: 'POST' });
    balanced.lb.axios.interceptors.request.eject(id);
    await request(balanced.url, { method: 'POST' });
    expect(upstream.seen.map((r) => [r.headers['x-intercepted'], r.headers['content-type'], r.headers.accept])).toEqual([
      ['1', undefined, undefined],
      [undefined, undefined, undefined],
    ]);
  });
});
