import { cpSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect, sql } from 'kysely';
import { Migrator, type Migration } from 'kysely/migration';
import pg from 'pg';
import type { Logger } from '../observability/log.ts';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { from as copyFrom } from 'pg-copy-streams';
import { loadDump, type DumpRunner } from './pg-dump.ts';
import { platformMigrations } from './migrations.ts';
import { RequestPool } from './request-pool.ts';

export type DatabaseKind = 'pg' | 'pglite';

export interface ModuleDatabase {
  /** The module's own Kysely instance; typed by the module, `any` here. */
  db: Kysely<any>;
  /**
   * The same database for work no request waits on (the outbox relay, snapshot fills): without
   * the statement and lock timeout of request paths. PGlite: the same instance.
   */
  background: Kysely<any>;
  kind: DatabaseKind;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  module: string;
  /** Postgres URL; undefined → embedded PGlite under `dataDir/<module>`. */
  url: string | undefined;
  dataDir: string;
  /** Text of the module's init_database.sql, loaded into an empty embedded database. */
  initSql?: string;
  migrations: Record<string, Migration>;
  log: Logger;
  /**
   * Postgres: the statement and lock timeout of request paths (DB_STATEMENT_TIMEOUT_MS). Not for
   * migrations nor background work. PGlite has one session and no other connection to wait on.
   */
  statementTimeoutMs?: number;
}

/**
 * The waits of a request on its database, each bounded so that a fault is a 503 within about half
 * a second of the client asking, while a queue that moves is only latency (see RequestPool):
 *
 * - the statement and lock timeout of request paths (DB_STATEMENT_TIMEOUT_MS, on the server):
 *   a statement that runs, or waits on a lock held by somebody else, that long is cancelled and
 *   its transaction rolled back;
 * - a statement the server does not answer at all (a host gone without closing anything): the
 *   client gives up QUERY_GRACE_MS after the server would have cancelled it;
 * - the wait for a connection (a free one, or a new one being set up): none while the pool's
 *   statements are answered; POOL_STALL_MS once none has been answered for that long (a refused
 *   connect is refused at once);
 * - a connect that hangs gives its slot back after CONNECT_TIMEOUT_MS (no request waits that
 *   long: the stall refuses it first).
 */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 400;
const QUERY_GRACE_MS = 100;
const POOL_STALL_MS = 450;
export const CONNECT_TIMEOUT_MS = 2000;
/**
 * The connect of the migrations at start: a database that hangs then holds the process's start
 * up this long before the module is left to heal in the background (runtime.ts).
 */
const START_CONNECT_TIMEOUT_MS = 1000;
/** Connects of background work (the relay, fills): nothing waits on them but that work. */
const BACKGROUND_CONNECT_TIMEOUT_MS = 5000;
/** Connections of a module's request pool (per process), and how many are kept open. */
const POOL_SIZE = 10;
const POOL_WARM = 2;

/** pg's client with the connect limit of its own (the pool's limit is on waiting for a connection). */
class BoundedConnectClient extends pg.Client {
  constructor(config?: string | pg.ClientConfig) {
    super(typeof config === 'string' ? { connectionString: config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS } : { ...config, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  }
}

// int8 (ids, counts) as numbers: every id in both products fits in 2^53.
const int8 = (v: string) => Number(v);
const pgTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === 20 ? int8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * Opens a module's database, loads its init_database.sql when the embedded database is new, and
 * runs the platform's migrations (outbox) and then the module's own.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<ModuleDatabase> {
  const { module, url, log } = options;
  if (url) {
    const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
    const pool = new pg.Pool({
      connectionString: url,
      max: POOL_SIZE,
      Client: BoundedConnectClient,
      // The queue in front (RequestPool) decides how long a request waits for a connection.
      connectionTimeoutMillis: 0,
      // A few connections stay open, made at start: a burst finds them set up and answering
      // while the rest are being made (the others close after 10 s idle, as pg's default).
      min: POOL_WARM,
      // Request paths: every statement and every lock wait ends within the budget on the server
      // (so a write blocked by a lock fails and is rolled back, never applied later); the
      // client-side limit is the backstop for a server that stops answering altogether.
      statement_timeout: statementTimeoutMs,
      lock_timeout: statementTimeoutMs,
      query_timeout: statementTimeoutMs + QUERY_GRACE_MS,
      types: pgTypes,
    });
    const requestPool = new RequestPool(pool, { max: POOL_SIZE, stallMs: POOL_STALL_MS });
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: requestPool }) });
    // Work in the background (the outbox relay, snapshot fills) has no request waiting on it and
    // may take longer than a request's budget: a small pool without the limits.
    const backgroundPool = new pg.Pool({ connectionString: url, max: 3, connectionTimeoutMillis: BACKGROUND_CONNECT_TIMEOUT_MS, types: pgTypes });
    for (const p of [pool, backgroundPool]) {
      // An idle connection that dies is reported by the pool; one in use by the client itself, and
      // an 'error' event nobody listens to ends the process. Its query fails (503) and the pool
      // drops it when it comes back.
      // (What was said, not the error: pg hangs the whole client on it.)
      const said = (error: Error) => ({ reason: error.message, code: (error as { code?: string }).code });
      p.on('error', (error) => log.warn('database connection lost', said(error)));
      p.on('connect', (client) => client.on('error', (error) => log.warn('database connection lost while in use', said(error))));
    }
    const background = new Kysely<any>({ dialect: new PostgresDialect({ pool: backgroundPool }) });
    const close = async () => {
      // (Kysely ends a pool only once it has used it: the connections made at start may be all.)
      await Promise.all([db.destroy(), background.destroy(), requestPool.end()]);
    };
    // Migrations run on a connection of their own with no time limit: on a large database an
    // index build takes what it takes, once (a request's limits are no measure of it).
    const migrations = new Kysely<any>({
      dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: START_CONNECT_TIMEOUT_MS, types: pgTypes, options: '-c statement_timeout=0' }) }),
    });
    try {
      await migrate(migrations, module, options.migrations, log);
    } catch (error) {
      await close();
      throw error;
    } finally {
      await migrations.destroy();
    }
    await requestPool.warm(POOL_WARM);
    return { db, background, kind: 'pg', close };
  }

  const dir = resolve(join(options.dataDir, module));
  if (!existsSync(join(dir, 'PG_VERSION'))) {
    const empty = await emptyCluster();
    await mkdir(dirname(dir), { recursive: true });
    cpSync(empty, dir, { recursive: true }); // a start-up cost, twice as fast as the async copy
  }
  const pglite = new PGlite(dir, { initialMemory: PGLITE_MEMORY, startParams: PGLITE_START });
  await pglite.waitReady;
  if (options.initSql && (await isEmpty((q) => pglite.query(q)))) {
    log.info('loading init_database.sql into new embedded database', { dir });
    await pglite.transaction(async (tx) => {
      await loadDump(
        {
          exec: async (s) => void (await tx.exec(s)),
          // PGlite reads a COPY's input from the blob given with the query.
          copy: async (into, data) => void (await tx.query(`COPY ${into} FROM '/dev/blob'`, [], { blob: new Blob([data]) })),
        },
        options.initSql!,
      );
    });
    // pg_dump files empty the search_path for the session; PGlite has only this one session.
    await pglite.exec('RESET ALL');
  }
  const db = new Kysely<any>({ dialect: new PGliteDialect({ pglite }) });
  await migrate(db, module, options.migrations, log);
  return { db, background: db, kind: 'pglite', close: () => db.destroy() };
}

/**
 * Every embedded database starts with this much WebAssembly memory. Growing it as queries need
 * more copies it, over and over, once several databases share a process: with seven, growing
 * took a third of a fresh start. Untouched pages cost no physical memory.
 */
const PGLITE_MEMORY = 256 * 1024 * 1024;
/**
 * Postgres settings of every embedded database. PGlite's default shared_buffers (128 MB) is
 * touched as it is set up: with seven databases in one process that alone was ~1.2 GB. An
 * embedded database is one module's, small, and read mostly from memory caches above it.
 */
const PGLITE_START = [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB', '-c', 'wal_buffers=512kB', '-c', 'temp_buffers=1MB'];
/** The installed PGlite's version: a cluster made by one version is no template for another. */
const PGLITE_VERSION = (
  JSON.parse(readFileSync(join(dirname(Bun.resolveSync('@electric-sql/pglite', import.meta.dir)), '..', 'package.json'), 'utf8')) as { version: string }
).version;

let template: Promise<string> | null = null;

/**
 * An empty PGlite cluster on disk, made once per machine and PGlite version (a cache under the
 * system's temporary directory: deleting it costs only time) and copied for every new embedded
 * database. initdb runs in memory (~4 s; on PGlite's file system it takes twice that), and its
 * result is unpacked to disk once, where unpacking it for each database cost a second apiece.
 */
function emptyCluster(): Promise<string> {
  template ??= (async () => {
    const dir = join(tmpdir(), `moa-pglite-${PGLITE_VERSION}-empty-cluster`);
    if (existsSync(join(dir, 'PG_VERSION'))) return dir;
    const initdb = new PGlite({ initialMemory: PGLITE_MEMORY });
    await initdb.waitReady;
    const dump = (await initdb.dumpDataDir('none')) as Blob;
    await initdb.close();
    const scratch = `${dir}.${process.pid}.${Date.now()}`;
    const pglite = new PGlite(scratch, { initialMemory: PGLITE_MEMORY, loadDataDir: dump });
    await pglite.waitReady;
    await pglite.close();
    try {
      await rename(scratch, dir);
    } catch (error) {
      // Another process made it meanwhile: use theirs.
      await rm(scratch, { recursive: true, force: true });
      if (!existsSync(join(dir, 'PG_VERSION'))) throw error;
    }
    return dir;
  })();
  template.catch(() => (template = null));
  return template;
}

/** Forgets the template's location once the process has opened its databases. */
export function releaseClusterTemplate() {
  template = null;
}

async function isEmpty(query: (q: string) => Promise<{ rows: unknown[] }>): Promise<boolean> {
  const { rows } = await query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public' LIMIT 1`);
  return rows.length === 0;
}

/**
 * Loads a dump into a Postgres database if it has no table yet (what the Postgres image's
 * entrypoint does with /docker-entrypoint-initdb.d). Used by the local split command and tests.
 * Returns true when it loaded the file.
 */
/** A dump's statements and COPY blocks through one Postgres connection. */
export const dumpRunner = (client: pg.Client): DumpRunner => ({
  exec: async (s) => void (await client.query(s)),
  copy: (into, data) => pipeline(Readable.from([data]), client.query(copyFrom(`COPY ${into} FROM STDIN`))),
});

export async function loadInitSqlIfEmpty(url: string, initSql: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    if (!(await isEmpty((q) => client.query(q)))) return false;
    await client.query('BEGIN');
    await loadDump(dumpRunner(client), initSql);
    await client.query('COMMIT');
    return true;
  } finally {
    await client.end();
  }
}

async function migrate(db: Kysely<any>, module: string, migrations: Record<string, Migration>, log: Logger) {
  for (const [table, set] of [
    ['platform_migration', platformMigrations],
    [`${module}_migration`, migrations],
  ] as const) {
    const migrator = new Migrator({
      db,
      provider: { getMigrations: async () => set },
      migrationTableName: table,
      migrationLockTableName: `${table}_lock`,
    });
    const { error, results } = await migrator.migrateToLatest();
    for (const r of results ?? []) log.info('migration', { module, migration: r.migrationName, status: r.status });
    if (error) throw error;
  }
}

