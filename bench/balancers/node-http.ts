// The floor for a Node balancer (N): a bare node:http proxy with a keep-alive agent,
// no framework, no parser: request and response piped through, hop-by-hop headers
// dropped, a 502 when the upstream fails. What any Node proxy costs at the least.
import http from 'node:http';
import { forwardedHeaders } from './hop-by-hop';
import { rotation } from './rotation';
import type { BuildBalancer } from './types';

/**
 * Sends one request to `target` on `agent` and pipes its answer to `res`, hop-by-hop
 * headers dropped, or answers 502 when it fails. The caller sends the body. Shared with
 * the Express floor (E), so both do the same HTTP work.
 */
export function relay(
  agent: http.Agent,
  target: URL,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  headers: http.OutgoingHttpHeaders,
): http.ClientRequest {
  const upstream = http.request({ agent, host: target.hostname, port: target.port, method: req.method, path, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, forwardedHeaders(answer.headers, target.host));
    answer.pipe(res);
  });
  upstream.on('error', () => {
    if (res.headersSent) res.destroy();
    else res.writeHead(502).end();
  });
  return upstream;
}

export const build: BuildBalancer = (targets) => {
  const next = rotation(targets.map((target) => new URL(target)));
  const agent = new http.Agent({ keepAlive: true });
  return (req, res) => {
    const target = next();
    req.pipe(relay(agent, target, req, res, req.url ?? '/', forwardedHeaders(req.headers, target.host)));
  };
};
