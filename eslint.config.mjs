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
    // Tool configuration files (not part of the library, tests, benchmarks or examples).
    'eslint.config.mjs',
    '.dependency-cruiser.cjs',
    'jest.config.js',
    'jest.express4.config.js',
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
  prettier,
);
