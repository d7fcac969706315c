// dependency-cruiser: the architecture rules of src/. Run with `npm run deps`.
//
// Layout the rules are written for:
//   src/index.ts, src/prometheus.ts   the two entries (public exports)
//   src/load-balance.ts               the factory
//   src/balancer.ts                   composition root, wires the parts
//   src/clock.ts, src/errors.ts       leaves
//   src/options/**                    option types, defaults, messages, validation
//   src/balancing/**                  targets, pool, lifecycle, selection, sticky, strategies/
//   src/forwarding/**, src/upgrade/**, src/resilience/**, src/observability/**, src/discovery/**
//
// Type-only imports are analysed too (tsPreCompilationDeps), so they count for cycles;
// the rules that allow them say so with `dependencyTypesNot: ['type-only']`.

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'strategies-never-forward',
      severity: 'error',
      comment:
        'A strategy only picks a target from the list it is given. Forwarding requests (src/forwarding/) and ' +
        'WebSocket upgrades (src/upgrade/) are done by others, so a strategy never imports them.',
      from: { path: '^src/balancing/strategies/' },
      to: { path: '^src/(forwarding|upgrade)/' },
    },
    {
      name: 'target-state-is-a-leaf',
      severity: 'error',
      comment:
        'Per-target state (src/balancing/target.ts) and the target list (src/balancing/pool.ts) are read by ' +
        'the strategies, never the other way round: they do not import src/balancing/strategies/ at all.',
      from: { path: '^src/balancing/(target|pool)\\.ts$' },
      to: { path: '^src/balancing/strategies/' },
    },
    {
      name: 'target-state-is-a-leaf',
      severity: 'error',
      comment:
        'Per-target state (src/balancing/target.ts) and the target list (src/balancing/pool.ts) take their ' +
        'settings already validated: they may import option types (import type) but no option code.',
      from: { path: '^src/balancing/(target|pool)\\.ts$' },
      to: { path: '^src/options/', dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'options-and-errors-are-leaves',
      severity: 'error',
      comment:
        'Option validation (src/options/) and the typed errors (src/errors.ts) sit at the bottom: besides ' +
        'each other they may only use src/clock.ts. Type-only imports from elsewhere in src/ are allowed.',
      from: { path: '^src/(options/|errors\\.ts$)' },
      to: {
        path: '^src/',
        pathNot: '^src/(options/|errors\\.ts$|clock\\.ts$)',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'only-prometheus-loads-prom-client',
      severity: 'error',
      comment:
        'prom-client is an optional peer dependency: only the separate entry src/prometheus.ts (the ' +
        "'express-load-balance/prometheus' export) and its folder src/prometheus/ may depend on it, even for types, so that the main " +
        'entry works without it installed.',
      from: { path: '^src/', pathNot: '^src/prometheus(\\.ts$|/)' },
      to: { path: ['(^|/)node_modules/prom-client/', '^prom-client(/|$)'] },
    },
    {
      name: 'opentelemetry-only-when-present',
      severity: 'error',
      comment:
        '@opentelemetry/api is an optional peer dependency, loaded at run time by src/observability/tracing.ts ' +
        'only when the app has it. An import of it (or of any OpenTelemetry package), even for types, would ' +
        'make the entries need it.',
      from: { path: '^src/' },
      to: { path: ['(^|/)node_modules/@opentelemetry/', '^@opentelemetry/'] },
    },
    {
      name: 'nothing-imports-index',
      severity: 'error',
      comment:
        'src/index.ts is the public entry: it re-exports from the modules, so a module importing it back ' +
        'would create a cycle. Import from the module that defines the thing instead.',
      from: { path: '^src/' },
      to: { path: '^src/index\\.ts$' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No dependency cycles, type-only imports included: a cycle hides which part is lower in the layering. ' +
        'Move the shared piece (often a type) into the lower module, or into its own file.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment:
        'A module nothing imports is dead code (or an entry not listed here). The two entries src/index.ts ' +
        'and src/prometheus.ts, and declaration files, are exempt.',
      from: {
        orphan: true,
        pathNot: ['\\.d\\.[cm]?ts$', '^src/index\\.ts$', '^src/prometheus\\.ts$'],
      },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'This import resolves to no file: a typo, a moved module or a package that is not installed.',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment:
        'This package is used but not declared in package.json: it works here only because something else ' +
        'installed it. Add it to dependencies (or peerDependencies).',
      from: {},
      to: {
        dependencyTypes: ['npm-no-pkg', 'npm-unknown'],
        // dependency-cruiser also tags a package listed in peerDependenciesMeta as 'npm-no-pkg'
        // (prom-client, an optional peer), next to its real 'npm-peer': a package declared in
        // any dependencies field is not reported.
        dependencyTypesNot: ['npm', 'npm-dev', 'npm-peer', 'npm-optional'],
      },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    // Analyse the TypeScript before compilation, so that type-only imports are seen
    // (and marked 'type-only') instead of being erased.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.d.ts', '.js', '.cjs', '.mjs', '.json'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
