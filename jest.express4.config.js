/**
 * The whole suite again, with every `import express from 'express'` resolved to Express 4
 * (the `express4` alias package), so both supported majors run the integration tests.
 * Tests that start other processes (the packed tarball, the examples) use the installed
 * Express 5 there and run once, in the main configuration.
 * @type {import('jest').Config}
 */
const base = require('./jest.config.js');

module.exports = {
  ...base,
  displayName: 'express 4',
  // Read by express-major.test.ts, which checks the mapping below really took effect.
  globals: { ...base.globals, EXPRESS_MAJOR: 4 },
  moduleNameMapper: {
    ...base.moduleNameMapper,
    '^express$': '<rootDir>/node_modules/express4',
  },
  testPathIgnorePatterns: ['/node_modules/', '/__tests__/package\\.test\\.ts$', '/__tests__/examples\\.test\\.ts$'],
};
