// `npm run example:from-hpm`: the shop API's two upstreams, behind http-proxy-middleware
// (before.ts) and behind express-load-balance (after.ts), side by side.
import { startAfter } from './after';
import { startBefore } from './before';
import { startUpstreams } from './upstreams';

async function main(): Promise<void> {
  const upstreams = await startUpstreams();
  const targets = upstreams.map((upstream) => upstream.url);
  const before = await startBefore(targets);
  const after = await startAfter(targets);
  console.log(`Upstreams: ${targets.join(', ')}`);
  console.log(`Before (http-proxy-middleware): http://localhost:${before.port}/api/items/1`);
  console.log(`After (express-load-balance):   http://localhost:${after.port}/api/items/1`);
  console.log(`Try: curl -i -X POST http://localhost:${after.port}/api/login (and the same on ${before.port})`);
  console.log('Press Ctrl-C to stop.');
  process.once('SIGINT', () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
