import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance } from 'axios';
import type { NextFunction, Request, Response } from 'express';
import { requestBody } from './body';
import { BadRequestError, NoTargetError } from './errors';
import { Events } from './events';
import { Exchange, type ForwardContext } from './forward';
import { upstreamRequestHeaders } from './headers';
import type { BalancerConfig, XForwardedMode } from './options';
import { Pool, type TargetSnapshot, type TargetState } from './pool';
import type { Strategy } from './strategies/types';
import { createTransport } from './transport';
import { relativePath } from './upstream-path';

/**
 * The object behind a `loadBalance()` middleware: its pool, strategy, connection
 * pools and axios instance, all built once from the validated config.
 */
export class Balancer implements ForwardContext {
  readonly pool: Pool;
  readonly strategy: Strategy<TargetState>;
  readonly events = new Events();
  readonly axios: AxiosInstance;
  readonly timeout: number;
  private readonly preserveHost: boolean;
  private readonly xForwarded: XForwardedMode;
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private closing: Promise<void> | undefined;

  constructor(config: BalancerConfig) {
    this.pool = new Pool(config.targets);
    this.strategy = config.strategy({ random: Math.random });
    this.timeout = config.timeout;
    this.preserveHost = config.preserveHost;
    this.xForwarded = config.xForwarded;
    // `timeout` on a keep-alive agent is how long an idle pooled socket lives; Node also
    // shortens it to one second under an upstream's `Keep-Alive: timeout=N` hint.
    const agentOptions = { keepAlive: true, timeout: config.keepAliveTimeout, scheduling: 'lifo' as const };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
    this.axios = axios.create({
      adapter: createTransport(),
      httpAgent: this.httpAgent,
      httpsAgent: this.httpsAgent,
      responseType: 'stream',
      maxRedirects: 0,
      decompress: false,
      validateStatus: null,
      transformRequest: [],
      transformResponse: [],
      maxBodyLength: Infinity,
      maxContentLength: Infinity,
      proxy: false,
    });
    // Forward the client's headers, not axios's defaults.
    delete this.axios.defaults.headers.common.Accept;
  }

  handle(req: Request, res: Response, next: NextFunction): void {
    if (this.closing !== undefined) {
      next(new NoTargetError('express-load-balance: the balancer is closed'));
      return;
    }
    if (req.method === 'CONNECT') {
      next(new BadRequestError('CONNECT is not forwarded by express-load-balance'));
      return;
    }
    const relative = relativePath(req.url);
    if (relative === undefined) {
      next(new BadRequestError('request path climbs above its root'));
      return;
    }
    const candidates = this.pool.available();
    const target = candidates.length === 0 ? undefined : this.strategy.pick(candidates, req);
    if (target === undefined) {
      next(new NoTargetError('no target available'));
      return;
    }
    const body = requestBody(req);
    const headers = upstreamRequestHeaders(req, target, this.preserveHost, this.xForwarded);
    if (Buffer.isBuffer(body)) {
      // A parser already read the stream: the re-serialised body has its own length,
      // and body-parser undid any Content-Encoding.
      headers['content-length'] = String(body.length);
      delete headers['content-encoding'];
    }
    new Exchange(this, req, res, next, target, relative, body, headers).start();
  }

  targets(): TargetSnapshot[] {
    return this.pool.targets.map((target) => target.snapshot());
  }

  close(): Promise<void> {
    this.closing ??= Promise.resolve().then(() => {
      this.httpAgent.destroy();
      this.httpsAgent.destroy();
    });
    return this.closing;
  }
}
