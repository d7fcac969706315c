import { defineConfig } from 'tsup';

export default defineConfig({
  // prometheus is its own entry so that only `express-load-balance/prometheus` loads prom-client.
  entry: { index: 'src/index.ts', prometheus: 'src/prometheus.ts' },
  format: ['cjs', 'esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
  platform: 'node',
  splitting: false,
  // Gives the ESM build the `__filename` that src/observability/tracing.ts loads the
  // optional @opentelemetry/api from (CommonJS has it already).
  shims: true,
});
