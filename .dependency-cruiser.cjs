/**
 * Module boundaries, strictly, with no baseline of tolerated violations:
 * - a module reaches another module only through that module's contract/;
 * - a contract is a leaf: it imports no platform code, no database, no other module's internals;
 * - platform/ imports no module, except the process entries that compose them (platform/main.ts,
 *   platform/split.ts, platform/healthcheck.ts);
 * - no cycles.
 * `bun run boundaries` runs it; test/architecture.test.ts runs it in the tests.
 */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'module-internals',
      severity: 'error',
      comment: "A module may import another module only through its contract/ (modules/<name>/contract/).",
      from: { path: '^modules/([^/]+)/' },
      to: { path: '^modules/', pathNot: ['^modules/$1/', '^modules/[^/]+/contract/'] },
    },
    {
      name: 'contract-is-a-leaf',
      severity: 'error',
      comment: 'A contract holds schemas, names and types: no platform, no database, no other module internals.',
      from: { path: '^modules/[^/]+/contract/' },
      to: {
        path: ['^platform/', '^node_modules/(kysely|pg|@electric-sql|elysia|nats)/', '^modules/'],
        pathNot: ['^modules/[^/]+/contract/'],
      },
    },
    {
      name: 'platform-knows-no-module',
      severity: 'error',
      comment: 'platform/ is what every module needs and no module owns; only the composition root wires modules in.',
      from: { path: '^platform/', pathNot: ['^platform/main\\.ts$', '^platform/split\\.ts$', '^platform/healthcheck\\.ts$'] },
      to: { path: '^modules/' },
    },
    {
      name: 'no-cycles',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(\\.data|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], mainFields: ['module', 'main'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
