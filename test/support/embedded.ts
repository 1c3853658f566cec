import { afterAll, beforeAll } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allModules } from '../../modules/index.ts';
import { parseConfig } from '../../platform/config.ts';
import { startSystem, type RunningSystem, type StartOptions } from '../../platform/runtime.ts';

/**
 * Every module of both products in this process, on embedded databases in a fresh DATA_DIR, for
 * the enclosing describe block: started before its tests with `env` (LOG_LEVEL=error unless it
 * says otherwise) and the start `options`, handed to `use`; stopped after them, the folder removed.
 */
export function embeddedForSuite(env: Record<string, string>, options: StartOptions = {}, use: (system: RunningSystem) => void = () => {}): void {
  const dataDir = mkdtempSync(join(tmpdir(), 'embedded-'));
  let system: RunningSystem | undefined;
  beforeAll(async () => {
    system = await startSystem(parseConfig({ LOG_LEVEL: 'error', ...env, DATA_DIR: dataDir }, allModules), allModules, options);
    use(system);
  }, 90000);
  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30000);
}
