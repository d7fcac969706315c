// Mutation testing of the safety modules: `npm run mutate` (all of them, a long run), or
// `npm run mutate -- --mutate src/resilience/retry-rules.ts` for one. Not part of
// `npm test`. The HTML report goes to reports/mutation/ (git-ignored).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  // Every related test, not only those that import the mutated file: most reach it through the public entry.
  jest: { configFile: 'jest.mutate.config.js', enableFindRelatedTests: false },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.json',
  mutate: [
    'src/forwarding/upstream-path.ts',
    'src/forwarding/headers.ts',
    'src/forwarding/response-head.ts',
    'src/resilience/retry-rules.ts',
    'src/balancing/strategies/*.ts',
    'src/forwarding/body.ts',
  ],
  coverageAnalysis: 'perTest',
  // One test process: the tests start real servers, and the machine is shared.
  concurrency: 1,
  // Real-server tests vary in speed on a busy machine; a mutant must be well past it to count as a timeout.
  timeoutFactor: 3,
  // The JSON report lists every survivor with its place and replacement, for reading without a browser.
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
};
