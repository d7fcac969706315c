// fastify with @fastify/reply-from (R): the fastest framework-based Node proxy, its
// undici pools keeping connections alive, targets rotated per request.
import type { RequestListener } from 'node:http';
import http from 'node:http';
import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';
import { rotation } from './rotation';
import type { BuildBalancer } from './types';

export const build: BuildBalancer = async (targets) => {
  const next = rotation(targets);
  let handler: RequestListener | undefined;
  const app = Fastify({
    serverFactory: (listener) => {
      handler = listener;
      return http.createServer();
    },
  });
  await app.register(replyFrom);
  app.all('/*', (request, reply) => reply.from(`${next()}${request.url}`));
  await app.ready();
  if (handler === undefined) throw new Error('fastify did not hand over its request listener');
  return handler;
};
