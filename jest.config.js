/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json' }] },
  moduleNameMapper: { '^express-load-balance$': '<rootDir>/src/index.ts' },
  testTimeout: 20_000,
  // jest.express4.config.js runs the same suite on Express 4; see express-major.test.ts.
  globals: { EXPRESS_MAJOR: 5 },
  // Tests start real servers; two workers fit the 2-core CI machine.
  maxWorkers: 2,
};
