import type { RequestListener } from 'node:http';

/** Builds a Node balancer (an Express app, usually) in front of `targets`. */
export type BuildBalancer = (targets: readonly string[]) => RequestListener | Promise<RequestListener>;
