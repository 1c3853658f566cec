import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// Each test runs dependency-cruiser (or tsc) in a child process: ~2 s alone, over 5 s (bun's
// default timeout) on a busy 2-core machine.
setDefaultTimeout(60_000);

const root = join(import.meta.dir, '..');

/** Runs the boundary check the way `bun run boundaries` does, in `cwd` (a tree with modules/ and platform/). */
function cruise(cwd = root) {
  const run = Bun.spawnSync(['bun', '--bun', join(root, 'node_modules/.bin/depcruise'), '--config', join(root, '.dependency-cruiser.cjs'), 'modules', 'platform'], {
    cwd,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  return { ok: run.exitCode === 0, output: run.stdout.toString() + run.stderr.toString() };
}

/**
 * A small tree of its own — two homeshopping modules (shopa may use shopb), a minifb one, a
 * platform file — that keeps every rule; `change` adds or replaces files to break one. The real
 * tree is never written to.
 */
function fixture(change: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'boundaries-'));
  const files: Record<string, string> = {
    'tsconfig.json': JSON.stringify({ compilerOptions: { module: 'ESNext', moduleResolution: 'bundler', allowImportingTsExtensions: true, noEmit: true, strict: true } }),
    'modules/shopa/dependencies.json': JSON.stringify({ product: 'homeshopping', dependencies: ['shopb'] }),
    'modules/shopa/contract/index.ts': 'export const A = 1;\n',
    'modules/shopa/use-cases.ts': "import type { Kysely } from 'kysely';\nimport { B } from '../shopb/contract/index.ts';\nexport const a = (db: Kysely<any>) => [db, B];\n",
    'modules/shopa/http.ts': "import { Elysia } from 'elysia';\nexport const http = () => new Elysia();\n",
    'modules/shopa/queries.ts': "import { sql } from 'kysely';\nexport const q = sql;\n",
    'modules/shopb/dependencies.json': JSON.stringify({ product: 'homeshopping', dependencies: [] }),
    'modules/shopb/contract/index.ts': 'export const B = 2;\n',
    'modules/shopb/queries.ts': 'export const rows = [];\n',
    'modules/fbc/dependencies.json': JSON.stringify({ product: 'minifb', dependencies: [] }),
    'modules/fbc/contract/index.ts': 'export const C = 3;\n',
    'platform/errors.ts': 'export class DomainError extends Error {}\n',
    ...change,
  };
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  try {
    return cruise(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `change` breaks exactly `rule`, reported on `file`. */
function caught(rule: string, file: string, change: Record<string, string>) {
  const result = fixture(change);
  expect(result.ok).toBe(false);
  expect(result.output).toContain(rule);
  expect(result.output).toContain(file);
}

describe('module boundaries', () => {
  test('the code base has no boundary violation', () => {
    const result = cruise();
    expect(result.output).toContain('no dependency violations found');
    expect(result.ok).toBe(true);
  });

  test('the fixture tree keeps every rule (so each case below breaks one thing)', () => {
    const result = fixture();
    expect(result.output).toContain('no dependency violations found');
    expect(result.ok).toBe(true);
  });

  /** Bad imports, each breaking exactly one rule: the test's name, the rule, the file it is reported on, the change. */
  const breaches: [string, string, string, Record<string, string>][] = [
    ["a module importing another module's internals is caught", 'module-internals', 'modules/shopa/bad.ts', { 'modules/shopa/bad.ts': "import { rows } from '../shopb/queries.ts';\nexport const x = rows;\n" }],
    ['a module using the contract of a module it does not declare is caught', 'undeclared-dependency', 'modules/shopb/bad.ts', { 'modules/shopb/bad.ts': "import { A } from '../shopa/contract/index.ts';\nexport const x = A;\n" }],
    ['Elysia outside http.ts is caught', 'elysia-only-in-http', 'modules/shopa/use-cases.ts', { 'modules/shopa/use-cases.ts': "import { Elysia } from 'elysia';\nexport const a = () => new Elysia();\n" }],
    ['Kysely at run time outside the data files is caught (its types are fine anywhere)', 'kysely-only-in-data-files', 'modules/shopa/use-cases.ts', { 'modules/shopa/use-cases.ts': "import { sql } from 'kysely';\nexport const a = sql;\n" }],
    ['platform code importing a module is caught', 'platform-knows-no-module', 'platform/bad.ts', { 'platform/bad.ts': "import { A } from '../modules/shopa/contract/index.ts';\nexport const x = A;\n" }],
    ['shipped code importing a development tool (platform/dev/) is caught', 'ships-no-dev-tool', 'platform/bad.ts', { 'platform/dev/tool.ts': 'export const tool = 1;\n', 'platform/bad.ts': "import { tool } from './dev/tool.ts';\nexport const x = tool;\n" }],
    ['an import cycle is caught', 'no-cycles', 'modules/shopb/cycle-a.ts', { 'modules/shopb/cycle-a.ts': "import { b } from './cycle-b.ts';\nexport const a = () => b;\n", 'modules/shopb/cycle-b.ts': "import { a } from './cycle-a.ts';\nexport const b = () => a;\n" }],
  ];
  for (const [name, rule, file, change] of breaches) test(name, () => caught(rule, file, change));

  test('the products do not use each other: an import across them is caught, and so is declaring it', () => {
    caught('undeclared-dependency', 'modules/shopa/bad.ts', { 'modules/shopa/bad.ts': "import { C } from '../fbc/contract/index.ts';\nexport const x = C;\n" });
    const declared = fixture({ 'modules/shopa/dependencies.json': JSON.stringify({ product: 'homeshopping', dependencies: ['shopb', 'fbc'] }) });
    expect(declared.ok).toBe(false);
    expect(declared.output).toContain('the products do not use each other');
  });

  test('a contract importing platform code, or a database driver, is caught', () => {
    caught('contract-is-a-leaf', 'modules/shopb/contract/index.ts', { 'modules/shopb/contract/index.ts': "import { DomainError } from '../../../platform/errors.ts';\nexport const B = DomainError;\n" });
    caught('contract-is-a-leaf', 'modules/shopb/contract/index.ts', { 'modules/shopb/contract/index.ts': "import { Kysely } from 'kysely';\nexport const B = Kysely;\n" });
  });
});

describe('types', () => {
  test('the whole codebase type-checks (tsc --noEmit, strict)', () => {
    const run = Bun.spawnSync([join(root, 'node_modules/.bin/tsc'), '--noEmit', '-p', join(root, 'tsconfig.json')], { cwd: root, stdout: 'pipe', stderr: 'pipe' });
    expect({ exitCode: run.exitCode, output: run.stdout.toString() + run.stderr.toString() }).toEqual({ exitCode: 0, output: '' });
  }, 120000);
});
