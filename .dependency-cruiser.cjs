/**
 * Module boundaries, strictly, with no baseline of tolerated violations:
 * - each module declares the modules it may use (modules/<name>/dependencies.json, as packwerk's
 *   `dependencies:`); it reaches those only through their contract/, and no other module at all;
 * - the two products never use each other (a declared dependency must be of the same product);
 * - inside a module only http.ts imports Elysia, and only the data files (queries, schema,
 *   migrations) use Kysely at run time (types anywhere);
 * - a contract is a leaf: it imports no platform code, no database, no other module's internals;
 * - platform/ imports no module, except the process entries that compose them;
 * - no cycles, nothing unresolvable.
 * `bun run boundaries` runs it; test/architecture.test.ts proves each rule with a bad import in a
 * tree of its own.
 */
const { existsSync, readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

/** The declared graph of the tree being checked (the working directory's modules/). */
function declaredModules() {
  const dir = join(process.cwd(), 'modules');
  const modules = readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(dir, d.name, 'dependencies.json')))
    .map((d) => ({ name: d.name, ...JSON.parse(readFileSync(join(dir, d.name, 'dependencies.json'), 'utf8')) }));
  for (const m of modules) {
    for (const dep of m.dependencies) {
      const other = modules.find((o) => o.name === dep);
      if (!other) throw new Error(`modules/${m.name}/dependencies.json names ${dep}, which is no module`);
      if (other.product !== m.product) throw new Error(`modules/${m.name}/dependencies.json names ${dep}: a ${m.product} module cannot use a ${other.product} one (the products do not use each other)`);
    }
  }
  return modules;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

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
    ...declaredModules().map((m) => ({
      name: 'undeclared-dependency',
      severity: 'error',
      comment: `modules/${m.name} may use only the modules its dependencies.json names (${m.dependencies.join(', ') || 'none'}).`,
      from: { path: `^modules/${escape(m.name)}/` },
      to: {
        path: '^modules/[^/]+/contract/',
        pathNot: [`^modules/${escape(m.name)}/`, ...m.dependencies.map((d) => `^modules/${escape(d)}/contract/`)],
      },
    })),
    {
      name: 'elysia-only-in-http',
      severity: 'error',
      comment: "Inside a module, only its HTTP adapter (http.ts) knows Elysia.",
      from: { path: '^modules/[^/]+/', pathNot: ['^modules/[^/]+/http\\.ts$'] },
      to: { path: '^node_modules/(elysia|@elysiajs)/' },
    },
    {
      name: 'kysely-only-in-data-files',
      severity: 'error',
      comment: 'Inside a module, only its data files (queries, schema, migrations) use Kysely at run time; its types are for everyone.',
      from: { path: '^modules/[^/]+/', pathNot: ['^modules/[^/]+/(queries|schema|migrations)\\.ts$', '\\.test\\.ts$'] },
      to: { path: '^node_modules/kysely/', dependencyTypesNot: ['type-only'] },
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
      from: { path: '^platform/', pathNot: ['^platform/main\\.ts$', '^platform/dev/split\\.ts$'] },
      to: { path: '^modules/' },
    },
    {
      name: 'ships-no-dev-tool',
      severity: 'error',
      comment: 'platform/dev/ (the local split launcher and its proxy) is for development: nothing that ships imports it, and the image leaves it out.',
      from: { path: '^(platform|modules)/', pathNot: ['^platform/dev/'] },
      to: { path: '^platform/dev/' },
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
    // The architecture test's tree links to this node_modules: resolve through the link, not past it.
    preserveSymlinks: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], mainFields: ['module', 'main'] },
    moduleSystems: ['es6', 'cjs'],
  },
};
