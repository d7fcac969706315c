import { once } from 'node:events';
import https from 'node:https';
import WebSocket from 'ws';
import { dnsTargets, type DnsTargetsOptions, type LoadBalanceOptions } from 'express-load-balance';
import { startDns, type TestDns } from './helpers/dns-server';
import { closeAll, request, startBalancer, type Balanced } from './helpers/servers';
import { OPENSSL, selfSignedCert, startHttpsUpstream, type HttpsUpstream, type TestCert } from './helpers/tls';

/**
 * HTTPS targets found in DNS are reached by address, but TLS is about names: the
 * balancer sends the name DNS gave (the SRV record's target, or the A/AAAA name) as the
 * server name (SNI) and checks the upstream's certificate against it.
 */
const SERVICE = '_https._tcp.api.service.test';

// Skipped on a developer's machine without the openssl CLI (which makes the certificates);
// on CI (.ci/run installs it) a missing openssl must fail the run.
const withOpenssl = OPENSSL !== undefined || process.env.CI === 'true' ? describe : describe.skip;
if (OPENSSL === undefined && process.env.CI !== 'true') console.warn('DNS TLS tests skipped: the openssl CLI is not installed');

withOpenssl('https targets found in DNS', () => {
  let dns: TestDns;
  let upstreams: HttpsUpstream[] = [];
  let balanced: Balanced | undefined;
  let apiCert: TestCert;
  let otherCert: TestCert;
  /** Trusts both test certificates, as an app trusts its private CA. */
  let agent: https.Agent;

  beforeAll(() => {
    apiCert = selfSignedCert('api.test');
    otherCert = selfSignedCert('other.test');
  });

  beforeEach(async () => {
    dns = await startDns();
    dns.a.set('api.test', ['127.0.0.1']);
    agent = new https.Agent({ keepAlive: true, ca: [apiCert.cert, otherCert.cert] });
  });

  let clients: WebSocket[] = [];

  afterEach(async () => {
    for (const ws of clients) ws.terminate();
    clients = [];
    await closeAll(balanced, ...upstreams);
    agent.destroy();
    await dns.stop();
    balanced = undefined;
    upstreams = [];
  });

  async function upstream(cert: TestCert): Promise<HttpsUpstream> {
    const started = await startHttpsUpstream('api', cert);
    upstreams.push(started);
    return started;
  }

  async function balance(name: string, options: DnsTargetsOptions = {}, more: Partial<LoadBalanceOptions> = {}): Promise<Balanced> {
    const targets = dnsTargets(name, { servers: [dns.address], protocol: 'https', ...options });
    balanced = await startBalancer({ targets, outlierDetection: false, retries: 0, axios: { httpsAgent: agent }, ...more });
    await balanced.lb.ready();
    return balanced;
  }

  it('sends the SRV record host name as the server name, and accepts a certificate for it', async () => {
    const api = await upstream(apiCert);
    dns.srv.set(SERVICE, [{ target: 'api.test', port: api.port }]);
    const { lb, url } = await balance(SERVICE);
    expect(lb.targets().map((t) => t.url)).toEqual([api.url]);

    const answer = await request(url, { path: '/users' });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('api');
    expect(api.seen).toEqual([{ url: '/users', host: `api.test:${api.port}`, servername: 'api.test' }]);
  });

  it('sends the A/AAAA name as the server name', async () => {
    const api = await upstream(apiCert);
    const { url } = await balance('api.test', { port: api.port });
    expect((await request(url)).status).toBe(200);
    expect(api.seen.map((s) => s.servername)).toEqual(['api.test']);
  });

  it('keeps the DNS name as the server name when the client Host is forwarded (preserveHost)', async () => {
    const api = await upstream(apiCert);
    dns.srv.set(SERVICE, [{ target: 'api.test', port: api.port }]);
    const { url } = await balance(SERVICE, {}, { preserveHost: true });

    const answer = await request(url, { headers: { host: 'shop.example' } });
    expect(answer.status).toBe(200);
    expect(api.seen).toEqual([{ url: '/', host: 'shop.example', servername: 'api.test' }]);
  });

  it('keeps the DNS name as the server name on the axios path, whatever Host an interceptor sets', async () => {
    const api = await upstream(apiCert);
    dns.srv.set(SERVICE, [{ target: 'api.test', port: api.port }]);
    const { lb, url } = await balance(SERVICE);
    lb.axios.interceptors.request.use((config) => {
      config.headers.set('host', 'signed.example');
      return config;
    });

    expect((await request(url)).status).toBe(200);
    expect(api.seen).toEqual([{ url: '/', host: 'signed.example', servername: 'api.test' }]);
  });

  it('refuses a certificate for another name with a 502 ELB_BAD_GATEWAY, though the CA is trusted', async () => {
    const impostor = await upstream(otherCert);
    dns.srv.set(SERVICE, [{ target: 'api.test', port: impostor.port }]);
    const { url, errors } = await balance(SERVICE);

    const answer = await request(url);
    expect(answer.status).toBe(502);
    expect(errors).toEqual([expect.objectContaining({ code: 'ELB_BAD_GATEWAY', target: impostor.url })]);
    expect((errors[0] as Error).cause).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(impostor.handshakes).toEqual(['api.test']);
    expect(impostor.seen).toEqual([]);
  });

  it('keeps connections alive per server name', async () => {
    const api = await upstream(apiCert);
    dns.srv.set(SERVICE, [{ target: 'api.test', port: api.port }]);
    const { url } = await balance(SERVICE);
    for (let i = 0; i < 3; i++) expect((await request(url)).status).toBe(200);
    expect(api.handshakes).toEqual(['api.test']);
    expect(Object.keys(agent.freeSockets)).toEqual([expect.stringContaining(':api.test')]);
  });

  /** A WebSocket through the balancer: resolves with the upgrade's status (101 once it is open). */
  async function upgrade(front: Balanced): Promise<{ status: number; ws: WebSocket }> {
    front.front.server.on('upgrade', front.lb.upgrade);
    const ws = new WebSocket(`ws://127.0.0.1:${front.front.port}/chat`);
    clients.push(ws);
    const status = await new Promise<number>((resolve, reject) => {
      ws.on('open', () => resolve(101));
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.on('error', reject);
    });
    return { status, ws };
  }

  it("opens WebSockets with the DNS name as the server name, trusting the httpsAgent's CA", async () => {
    const api = await upstream(apiCert);
    dns.srv.set(SERVICE, [{ target: 'api.test', port: api.port }]);
    const { status, ws } = await upgrade(await balance(SERVICE));
    expect(status).toBe(101);
    const reply = once(ws, 'message');
    ws.send('hi');
    expect(String((await reply)[0])).toBe('api: hi');
    expect(api.seen).toEqual([{ url: '/chat', host: `api.test:${api.port}`, servername: 'api.test' }]);
  });

  it('refuses a WebSocket upgrade with 502 when the certificate is for another name', async () => {
    const impostor = await upstream(otherCert);
    dns.srv.set(SERVICE, [{ target: 'api.test', port: impostor.port }]);
    const { status } = await upgrade(await balance(SERVICE));
    expect(status).toBe(502);
    expect(impostor.handshakes).toEqual(['api.test']);
    expect(impostor.seen).toEqual([]);
  });

  it("skips the certificate check of WebSocket upstreams when the httpsAgent's rejectUnauthorized is false", async () => {
    const impostor = await upstream(otherCert);
    dns.srv.set(SERVICE, [{ target: 'api.test', port: impostor.port }]);
    agent.destroy();
    agent = new https.Agent({ rejectUnauthorized: false });
    const { status } = await upgrade(await balance(SERVICE));
    expect(status).toBe(101);
    expect(impostor.seen.map((s) => s.servername)).toEqual(['api.test']);
  });
});
