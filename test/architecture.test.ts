import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Each test runs dependency-cruiser (or tsc) in a child process: ~2 s alone, over 5 s (bun's
// default timeout) on a busy 2-core machine.
setDefaultTimeout(60_000);

const root = join(import.meta.dir, '..');

/** Runs the boundary check the way `bun run boundaries` does, optionally on extra files. */
function cruise(...extra: string[]) {
  const run = Bun.spawnSync(['bun', '--bun', 'depcruise', '--config', '.dependency-cruiser.cjs', 'modules', 'platform', ...extra], {
    cwd: root,
    stdout: 'pipe',
    stderr: 'pipe',
  });
  return { ok: run.exitCode === 0, output: run.stdout.toString() + run.stderr.toString() };
}

/** Writes a file that breaks a rule, runs the check, removes the file. */
function withBadFile(path: string, source: string) {
  const full = join(root, path);
  writeFileSync(full, source);
  try {
    return cruise();
  } finally {
    rmSync(full, { force: true });
  }
}

describe('module boundaries', () => {
  test('the code base has no boundary violation', () => {
    const result = cruise();
    expect(result.output).toContain('no dependency violations found');
    expect(result.ok).toBe(true);
  });

  test("a module importing another module's internals is caught", () => {
    const result = withBadFile('modules/item/zz-bad-import.ts', "import { alarmUseCases } from '../alarm/use-cases.ts';\nexport const x = alarmUseCases;\n");
    expect(result.ok).toBe(false);
    expect(result.output).toContain('module-internals');
    expect(result.output).toContain('modules/item/zz-bad-import.ts');
  });

  test("a module importing another module's contract is allowed", () => {
    const result = withBadFile('modules/item/zz-good-import.ts', "import { ALARMS_BUCKET } from '../alarm/contract/index.ts';\nexport const x = ALARMS_BUCKET;\n");
    expect(result.output).toContain('no dependency violations found');
  });

  test('a contract importing platform code is caught', () => {
    const result = withBadFile('modules/item/contract/zz-bad.ts', "import { DomainError } from '../../../platform/errors.ts';\nexport const x = DomainError;\n");
    expect(result.ok).toBe(false);
    expect(result.output).toContain('contract-is-a-leaf');
  });

  test('a contract importing a database driver is caught', () => {
    const result = withBadFile('modules/item/contract/zz-bad-db.ts', "import { Kysely } from 'kysely';\nexport const x = Kysely;\n");
    expect(result.ok).toBe(false);
    expect(result.output).toContain('contract-is-a-leaf');
  });

  test('platform code importing a module is caught', () => {
    const result = withBadFile('platform/zz-bad.ts', "import { itemModule } from '../modules/item/index.ts';\nexport const x = itemModule;\n");
    expect(result.ok).toBe(false);
    expect(result.output).toContain('platform-knows-no-module');
  });

  test('an import cycle is caught', () => {
    const a = join(root, 'modules/item/zz-cycle-a.ts');
    const b = join(root, 'modules/item/zz-cycle-b.ts');
    writeFileSync(a, "import { b } from './zz-cycle-b.ts';\nexport const a = () => b;\n");
    writeFileSync(b, "import { a } from './zz-cycle-a.ts';\nexport const b = () => a;\n");
    try {
      const result = cruise();
      expect(result.ok).toBe(false);
      expect(result.output).toContain('no-cycles');
    } finally {
      rmSync(a, { force: true });
      rmSync(b, { force: true });
    }
  });
});

describe('types', () => {
  test('the whole codebase type-checks (tsc --noEmit, strict)', () => {
    const run = Bun.spawnSync([join(root, 'node_modules/.bin/tsc'), '--noEmit', '-p', join(root, 'tsconfig.json')], { cwd: root, stdout: 'pipe', stderr: 'pipe' });
    expect({ exitCode: run.exitCode, output: run.stdout.toString() + run.stderr.toString() }).toEqual({ exitCode: 0, output: '' });
  }, 120000);
});
