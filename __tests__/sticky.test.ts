import express from 'express';
import express4 from 'express4';
import type { LoadBalanceOptions } from 'express-load-balance';
import {
  ANSWER_PREFIX,
  closeAll,
  request,
  startBalancer,
  startUpstream,
  type Balanced,
  type SimpleResponse,
  type Upstream,
} from './helpers/servers';

function setCookies(res: SimpleResponse): string[] {
  return res.headers['set-cookie'] ?? [];
}

/** The id in our Set-Cookie, checking the attributes on the way. */
function stickyId(res: SimpleResponse, path = '/api'): string {
  const ours = setCookies(res).filter((c) => c.startsWith('lb_target='));
  expect(ours).toHaveLength(1);
  const match = /^lb_target=([^;]+); Path=([^;]+); HttpOnly; SameSite=Lax$/.exec(ours[0]!);
  expect(match).not.toBeNull();
  expect(match![2]).toBe(path);
  return match![1]!;
}

describe('sticky sessions', () => {
  let upstreams: Upstream[] = [];
  let balancers: Balanced[] = [];
  afterEach(async () => {
    await closeAll(...balancers, ...upstreams);
    balancers = [];
    upstreams = [];
  });

  async function start(options: Partial<LoadBalanceOptions> = {}, mount = '/api', app = express()): Promise<Balanced> {
    if (upstreams.length === 0) {
      upstreams = await Promise.all(
        ['a', 'b', 'c'].map((name) =>
          startUpstream(name, (upstream) => {
            upstream.get('/login', (_req, res) => {
              res.cookie('session', name).cookie('theme', 'dark').send(`${ANSWER_PREFIX}${name}`);
            });
          }),
        ),
      );
    }
    const front = await startBalancer(
      { targets: upstreams.map((u) => u.url), sticky: { cookie: 'lb_target' }, ...options },
      { mount, app },
    );
    balancers.push(front);
    return front;
  }

  it('sets a cookie on the first response and keeps later requests on that target', async () => {
    const front = await start();
    const first = await request(front.url, { path: '/api/x' });
    const id = stickyId(first);
    const cookie = `other=1; lb_target=${id}; more=2`;
    for (let i = 0; i < 9; i++) {
      const res = await request(front.url, { path: '/api/x', headers: { cookie } });
      expect(res.text).toBe(first.text);
      // The cookie already names this target: nothing to set again.
      expect(setCookies(res)).toEqual([]);
    }
    // Without the cookie the strategy (round robin) would have moved on.
    expect((await request(front.url, { path: '/api/x' })).text).not.toBe(first.text);
  });

  it('holds an opaque id, never the upstream address', async () => {
    const front = await start();
    const id = stickyId(await request(front.url, { path: '/api/x' }));
    const port = String(upstreams[0]!.port);
    for (const form of [id, Buffer.from(id, 'base64url').toString('latin1'), decodeURIComponent(id)]) {
      expect(form).not.toContain('127.0.0.1');
      expect(form).not.toContain(port);
    }
  });

  it('adds its cookie after the upstream Set-Cookie values, replacing none', async () => {
    const front = await start();
    const res = await request(front.url, { path: '/api/login' });
    const cookies = setCookies(res);
    expect(cookies).toHaveLength(3);
    expect(cookies[0]).toMatch(/^session=/);
    expect(cookies[1]).toMatch(/^theme=dark/);
    expect(cookies[2]).toMatch(/^lb_target=/);
  });

  it.each([
    ['a garbage value', 'lb_target=garbage'],
    ['an empty value', 'lb_target='],
    ['odd bytes', 'lb_target=%00%ff"\\'],
    ['a valid id under a longer name', 'xlb_target=VALID'],
  ])('ignores %s: normal pick, new cookie, no error', async (_name, header) => {
    const front = await start();
    const valid = stickyId(await request(front.url, { path: '/api/x' }));
    const res = await request(front.url, { path: '/api/x', headers: { cookie: header.replace('VALID', valid) } });
    expect(res.status).toBe(200);
    expect(res.text).toBe(`${ANSWER_PREFIX}b`); // round robin's second pick: the cookie changed nothing
    expect(stickyId(res)).not.toBe(valid);
    expect(front.errors).toEqual([]);
  });

  it('picks anew and resets the cookie when the pinned target has been removed', async () => {
    const front = await start();
    const first = await request(front.url, { path: '/api/x' });
    const id = stickyId(first);
    await front.lb.removeTarget(upstreams[0]!.url);
    const res = await request(front.url, { path: '/api/x', headers: { cookie: `lb_target=${id}` } });
    expect(res.status).toBe(200);
    expect(res.text).not.toBe(first.text);
    const renewed = stickyId(res);
    expect(renewed).not.toBe(id);
    expect((await request(front.url, { path: '/api/x', headers: { cookie: `lb_target=${renewed}` } })).text).toBe(res.text);
  });

  it('works with any strategy, and uses the mount path (or /) as the cookie Path', async () => {
    const front = await start({ strategy: 'random' }, '/');
    const first = await request(front.url, { path: '/deep/path' });
    const id = stickyId(first, '/');
    for (let i = 0; i < 10; i++) {
      expect((await request(front.url, { path: '/x', headers: { cookie: `lb_target=${id}` } })).text).toBe(first.text);
    }
  });

  it('falls back to Path=/ when the mount path from the request could carry cookie attributes', async () => {
    const front = await start({}, '/:tenant');
    const res = await request(front.url, { path: '/t;Domain=evil.example/x' });
    expect(res.status).toBe(200);
    stickyId(res, '/');
    expect(stickyId(await request(front.url, { path: '/tenant1/x' }), '/tenant1')).toBeTruthy();
  });

  it('marks the cookie Secure when the client came over HTTPS', async () => {
    const app = express();
    app.set('trust proxy', true);
    const front = await start({}, '/api', app);
    const res = await request(front.url, { path: '/api/x', headers: { 'x-forwarded-proto': 'https' } });
    expect(setCookies(res)[0]).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
  });

  it('honours a cookie set by another balancer that shares the secret, and only then', async () => {
    const secret = 'a shared secret of some length';
    const one = await start({ sticky: { cookie: 'lb_target', secret } });
    const two = await start({ sticky: { cookie: 'lb_target', secret } });
    const other = await start();
    const first = await request(one.url, { path: '/api/x' });
    const cookie = `lb_target=${stickyId(first)}`;
    await request(two.url, { path: '/api/x' }); // move two's round robin on, so only the cookie can explain a match
    expect((await request(two.url, { path: '/api/x', headers: { cookie } })).text).toBe(first.text);
    const unshared = await request(other.url, { path: '/api/x', headers: { cookie } });
    expect(setCookies(unshared)).toHaveLength(1);
  });

  it('round-trips on Express 4 too', async () => {
    const front = await start({}, '/api', express4());
    const first = await request(front.url, { path: '/api/x' });
    const cookie = `lb_target=${stickyId(first)}`;
    for (let i = 0; i < 4; i++) expect((await request(front.url, { path: '/api/x', headers: { cookie } })).text).toBe(first.text);
  });
});
