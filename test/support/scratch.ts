/**
 * Scaffolding for the platform's own tests: a scratch module database (PGlite in a temporary
 * folder, or a fresh database on the test Postgres) with a `thing` table, shared as a bucket;
 * and for the modules' unit tests, a Kysely on a fresh in-memory PGlite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect } from 'kysely';
import type { Migration } from 'kysely/migration';
import { openDatabase, type ModuleDatabase } from '../../platform/data/db.ts';
import { DomainError } from '../../platform/errors.ts';
import type { Logger } from '../../platform/observability/log.ts';
import { pageOf, valuesOf, type SharedBucket } from '../../platform/data/snapshot.ts';
import { admin, urlOf } from './shop.ts';

/**
 * A Kysely on a fresh in-memory embedded database, `migrations` run on it in order; `onQuery` is
 * told the SQL of every statement it runs (to count them).
 */
export async function embeddedDatabase<DB>(migrations: Migration[], onQuery: (sql: string) => void = () => {}): Promise<Kysely<DB>> {
  const pglite = new PGlite();
  await pglite.waitReady;
  const db = new Kysely<DB>({
    dialect: new PGliteDialect({ pglite }),
    log: (event) => {
      if (event.level === 'query') onQuery(event.query.sql);
    },
  });
  for (const m of migrations) await m.up(db as Kysely<any>);
  return db;
}

/** Where a scratch database lives: a temporary folder (PGlite), and for Postgres a fresh database at `url`. */
export async function scratchPlace(backend: 'pglite' | 'pg'): Promise<{ dir: string; url: string | undefined; drop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'scratch-'));
  const name = `t_scratch_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  if (backend === 'pg') await admin(`CREATE DATABASE ${name}`);
  return {
    dir,
    url: backend === 'pg' ? urlOf(name) : undefined,
    async drop() {
      rmSync(dir, { recursive: true, force: true });
      if (backend === 'pg') await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A module database with the platform's tables and `thing (id integer primary key, v text)`. */
export async function scratchDatabase(backend: 'pglite' | 'pg', log: Logger): Promise<{ database: ModuleDatabase; drop(): Promise<void> }> {
  const place = await scratchPlace(backend);
  const database = await openDatabase({ module: 'scratch', url: place.url, dataDir: place.dir, migrations: {}, log });
  await database.db.schema.createTable('thing').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('v', 'text').execute();
  return {
    database,
    async drop() {
      await database.close();
      await place.drop();
    },
  };
}

/** The `thing` table as the bucket `things` (key = id); `calls` counts the statements it makes. */
export function sharedThings(calls: { page: (string | undefined)[]; values: number[] } = { page: [], values: [] }): SharedBucket {
  return {
    bucket: 'things',
    async page(db, after, limit) {
      calls.page.push(after);
      const rows = await db.selectFrom('thing').select(['id', 'v']).where('id', '>', Number(after ?? 0)).orderBy('id').limit(limit).execute();
      return pageOf(rows, limit, (r) => String(r.id));
    },
    async values(db, keys) {
      calls.values.push(keys.length);
      const rows = keys.length ? await db.selectFrom('thing').select(['id', 'v']).where('id', 'in', keys.map(Number)).execute() : [];
      return valuesOf(keys, rows, (r) => String(r.id));
    },
  };
}

/** The DomainError code a promise (or value) ends with: 'resolved' when it does not fail. */
export async function codeOf(p: unknown): Promise<string> {
  try {
    await p;
  } catch (error) {
    return error instanceof DomainError ? error.code : `not a DomainError: ${error}`;
  }
  return 'resolved';
}
