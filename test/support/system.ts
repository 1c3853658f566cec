/**
 * Starts the whole system in one process (in-process bus, no ports bound) on PGlite or on fresh
 * Postgres databases, and talks to it as a client would, through `app.handle(Request)`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { allModules } from '../../modules/index.ts';
import { parseConfig } from '../../platform/config.ts';
import { databaseUrl } from '../../platform/split.ts';
import { loadInitSqlIfEmpty } from '../../platform/db.ts';
import { startSystem, type RunningSystem } from '../../platform/runtime.ts';
import { PG_ADMIN } from './split.ts';

export type Backend = 'pglite' | 'pg';

export interface TestSystem {
  system: RunningSystem;
  /** Sends a request to the app serving `port`. */
  call(port: number, path: string, init?: RequestInit): Promise<Response>;
  databaseUrl(module: string): string | undefined;
  stop(): Promise<void>;
}

const adminQuery = async (sql: string) => {
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
};

/**
 * `initSql(module)` gives the dump to load into each fresh Postgres database (default: the
 * module's own init_database.sql); `load` may replace the loader (e.g. psql for the kit's files).
 */
export async function startTestSystem(
  backend: Backend,
  options: { load?: (module: string, url: string) => Promise<void> } = {},
): Promise<TestSystem> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sys-'));
  const prefix = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const modules = allModules.map((m) => m.name);
  const env: Record<string, string> = { DATA_DIR: dataDir, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error' };
  const urls = new Map<string, string>();
  if (backend === 'pg') {
    for (const m of modules) {
      await adminQuery(`CREATE DATABASE "${prefix}_${m}"`);
      const url = databaseUrl(PG_ADMIN, `${prefix}_${m}`);
      urls.set(m, url);
      env[`${m.toUpperCase()}_DATABASE_URL`] = url;
      const def = allModules.find((d) => d.name === m)!;
      if (options.load) await options.load(m, url);
      else if (def.initSql) await loadInitSqlIfEmpty(url, def.initSql);
    }
  }
  const system = await startSystem(parseConfig(env, allModules), allModules, { listen: false });
  return {
    system,
    call: (port, path, init) => system.apps.get(port)!.handle(new Request(`http://localhost${path}`, init)),
    databaseUrl: (m) => urls.get(m),
    async stop() {
      await system.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (backend === 'pg') for (const m of modules) await adminQuery(`DROP DATABASE IF EXISTS "${prefix}_${m}" WITH (FORCE)`);
    },
  };
}
