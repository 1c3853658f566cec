/**
 * The split topology without Docker — what compose.yaml does, for development and tests:
 * one database per domain on a given Postgres (created, and loaded with the domain's
 * init_database.sql when empty, as the Postgres image's entrypoint would), and one process per
 * domain against a given NATS, with the same variables compose sets.
 *
 *   bun run start:split                 # Postgres and NATS on this machine
 *   SPLIT_PG_URL=postgres://u:p@host:5432/postgres NATS_URL=nats://host:4222 bun run start:split
 *
 * Variables: SPLIT_PG_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * SPLIT_DB_PREFIX (database names <prefix>_<module>, default "moa"), NATS_URL (default
 * nats://127.0.0.1:4222), MODULES (default all), <MODULE>_PORT as in the main process.
 */
import { join } from 'node:path';
import pg from 'pg';
import { allModules } from '../modules/index.ts';
import { loadInitSqlIfEmpty } from './db.ts';
import { createLogger } from './log.ts';

export interface SplitProcess {
  module: string;
  env: Record<string, string>;
}

export interface SplitOptions {
  pgUrl: string;
  dbPrefix: string;
  natsUrl: string;
  modules: string[];
  ports?: Record<string, number>;
  /** Extra variables for every process. */
  env?: Record<string, string>;
}

/** The database URL of one module's database on the admin URL's server. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates each module's database if missing and loads its init_database.sql when empty. */
export async function prepareDatabases(options: Pick<SplitOptions, 'pgUrl' | 'dbPrefix' | 'modules'>) {
  const admin = new pg.Client({ connectionString: options.pgUrl });
  await admin.connect();
  try {
    for (const name of options.modules) {
      const database = `${options.dbPrefix}_${name}`;
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (!rowCount) await admin.query(`CREATE DATABASE "${database.replaceAll('"', '')}"`);
      const def = allModules.find((m) => m.name === name);
      if (def?.initSql) await loadInitSqlIfEmpty(databaseUrl(options.pgUrl, database), def.initSql);
    }
  } finally {
    await admin.end();
  }
}

/** The processes of the split topology, with exactly the variables compose.yaml sets. */
export function planSplit(options: SplitOptions): SplitProcess[] {
  return options.modules.map((name) => {
    const def = allModules.find((m) => m.name === name);
    if (!def) throw new Error(`unknown module ${name}`);
    const upper = name.toUpperCase();
    return {
      module: name,
      env: {
        ...options.env,
        MODULES: name,
        NATS_URL: options.natsUrl,
        [`${upper}_DATABASE_URL`]: databaseUrl(options.pgUrl, `${options.dbPrefix}_${name}`),
        [`${upper}_PORT`]: String(options.ports?.[name] ?? def.defaultPort),
      },
    };
  });
}

/** Starts one process of the plan; its output goes to this terminal, prefixed logs are JSON. */
export function spawnProcess(p: SplitProcess, extraEnv: Record<string, string> = {}) {
  return Bun.spawn(['bun', join(import.meta.dir, 'main.ts')], {
    env: { ...process.env, ...p.env, ...extraEnv },
    stdout: 'inherit',
    stderr: 'inherit',
  });
}

if (import.meta.main) {
  const log = createLogger({ component: 'split' });
  const env = process.env;
  const modules = (env.MODULES ?? allModules.map((m) => m.name).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const ports = Object.fromEntries(modules.filter((m) => env[`${m.toUpperCase()}_PORT`]).map((m) => [m, Number(env[`${m.toUpperCase()}_PORT`])]));
  const options: SplitOptions = {
    pgUrl: env.SPLIT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    dbPrefix: env.SPLIT_DB_PREFIX ?? 'moa',
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    modules,
    ports,
  };
  await prepareDatabases(options);
  const children = planSplit(options).map((p) => {
    log.info('starting', { module: p.module, port: p.env[`${p.module.toUpperCase()}_PORT`] });
    return spawnProcess(p, { DATA_DIR: env.DATA_DIR ?? './.data/split' });
  });
  const stop = () => {
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const codes = await Promise.all(children.map((c) => c.exited));
  process.exit(codes.some((c) => c !== 0 && c !== 143) ? 1 : 0);
}
