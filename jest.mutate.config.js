/**
 * For `npm run mutate` (StrykerJS, stryker.config.mjs): only the tests that exercise the
 * mutated safety modules, so each mutant is judged in seconds, not by the whole suite.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

const RELATED = [
  // forwarding/upstream-path.ts
  'upstream-path',
  'ssrf',
  'encoded-slashes',
  'path-rewrite',
  // forwarding/headers.ts (hostile-upstreams and responses hold the status and reason-phrase checks,
  // response-rewrites the client-facing host that only the rewrite options use, websocket
  // the plain Node requests of lb.upgrade, which have no Express app)
  'headers',
  'header-abuse',
  'x-forwarded',
  'hostile-upstreams',
  'responses',
  'response-rewrites',
  'websocket',
  // resilience/retry-rules.ts
  'retry-rules',
  'retries',
  // balancing/strategies/*.ts
  'strategy-picks',
  'round-robin',
  'weights',
  'least-connections',
  'power-of-two',
  'peak-ewma',
  'consistent-hash',
  'sticky',
  // forwarding/body.ts (mirroring holds the tee of a streamed body to a mirror, streaming its back-pressure)
  'max-body-size',
  'parsed-bodies',
  'mirroring',
  'streaming',
];

module.exports = {
  ...base,
  testMatch: RELATED.map((name) => `**/__tests__/${name}.test.ts`),
};
