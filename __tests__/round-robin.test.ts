import express4 from 'express4';
import express from 'express';
import type { Express } from 'express';
import { loadBalance } from 'express-load-balance';
import { closeAll, listen, request, startUpstream, type Upstream } from './helpers/servers';

describe.each([
  ['Express 5', () => express()],
  ['Express 4', () => express4() as unknown as Express],
])('round-robin on %s', (_name, createApp) => {
  let upstreams: Upstream[] = [];
  afterEach(() => closeAll(...upstreams));

  it('answers 1, 2, 3, 1, 2, 3 like the tutorial', async () => {
    upstreams = await Promise.all(['1', '2', '3'].map((n) => startUpstream(n)));
    const lb = loadBalance(upstreams.map((u) => u.url));
    const app = createApp();
    app.use(lb);
    const front = await listen(app);
    try {
      const answers: string[] = [];
      for (let i = 0; i < 6; i++) answers.push((await request(front.url, { path: '/' })).text);
      expect(answers).toEqual([1, 2, 3, 1, 2, 3].map((n) => `Response from server Test: ${n}`));
    } finally {
      await lb.close();
      await front.close();
    }
  });

  it('serves the app own routes next to a balancer mounted on /api', async () => {
    upstreams = await Promise.all(['1', '2'].map((n) => startUpstream(n)));
    const lb = loadBalance({ targets: upstreams.map((u) => u.url), strategy: 'round-robin' });
    const app = createApp();
    app.get('/health', (_req, res) => void res.send('own route'));
    app.use('/api', lb);
    const front = await listen(app);
    try {
      expect((await request(front.url, { path: '/health' })).text).toBe('own route');
      const first = await request(front.url, { path: '/api/users?x=1' });
      const second = await request(front.url, { path: '/api/users?x=1' });
      expect([first.text, second.text]).toEqual(['Response from server Test: 1', 'Response from server Test: 2']);
      expect(upstreams[0]!.seen.map((r) => r.url)).toEqual(['/users?x=1']);
      expect(upstreams[1]!.seen.map((r) => r.url)).toEqual(['/users?x=1']);
      expect((await request(front.url, { path: '/other' })).status).toBe(404);
    } finally {
      await lb.close();
      await front.close();
    }
  });
});
