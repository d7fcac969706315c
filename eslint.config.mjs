// @ts-check
// ESLint flat config: @eslint/js recommended + typescript-eslint's type-checked
// recommended rules for the TypeScript sources, tests, benchmarks and examples.
// eslint-config-prettier comes last so that no stylistic rule fights Prettier.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig, globalIgnores } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  globalIgnores([
    'dist/',
    'coverage/',
    'docs/',
    'bench/results/',
    '.ci/',
    // Mutation testing's report and sandbox (npm run mutate).
    'reports/',
    '.stryker-tmp/',
    // Tool configuration files (not part of the library, tests, benchmarks or examples).
    'eslint.config.mjs',
    '.dependency-cruiser.cjs',
    'jest.config.js',
    'jest.express4.config.js',
    'jest.mutate.config.js',
    'stryker.config.mjs',
    'tsup.config.ts',
  ]),
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: {
        // Each file is checked against its nearest tsconfig.json: the root one for
        // src/, __tests__/ and examples/, bench/tsconfig.json for bench/.
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: {
      reportUnusedDisableDirectives: 'error',
    },
    rules: {
      // `import x = require('...')` is TypeScript's own syntax for `export =` modules
      // (e.g. in a `declare module` block); bare `require()` calls are still reported.
      '@typescript-eslint/no-require-imports': ['error', { allowAsImport: true }],
    },
  },
  {
    // Bench only. The balancer table loads each balancer's module on first use, so a
    // balancer child process holds its own library and nothing else (peak RSS compares
    // like with like), and the express-load-balance balancer loads a build chosen at run
    // time (dist, or BENCH_CANDIDATE). Both must be synchronous, as a BuildBalancer is,
    // and the children run with tsx's CommonJS hook only (`--require tsx/cjs`), under
    // which `await import()` of a .ts file would not load: so these stay `require()`.
    files: ['bench/balancers/index.ts', 'bench/balancers/express-load-balance.ts'],
    rules: {
      '@typescript-eslint/no-require-imports': 'off',
    },
  },
  prettier,
);
