import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase, type ModuleDatabase } from './db.ts';
import { databaseError, DomainError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };

/**
 * A Postgres connection that dies while a module holds it (a database restarted, an
 * administrator's pg_terminate_backend) fails that query — and nothing else: the process lives
 * on and the pool serves new connections when the database is back.
 */
const ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

describe('database connections', () => {
  test('a connection terminated while in use fails its query and leaves the process running', async () => {
    const database = `t_db_${crypto.randomUUID().replaceAll('-', '').slice(0, 10)}`;
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    try {
      const url = Object.assign(new URL(ADMIN_URL), { pathname: `/${database}` }).toString();
      // In a process of its own: an 'error' event nobody handles would end it, and must not.
      const script = `
        import { openDatabase } from ${JSON.stringify(join(import.meta.dir, 'db.ts'))};
        import { createLogger } from ${JSON.stringify(join(import.meta.dir, '..', 'observability', 'log.ts'))};
        import { sql } from 'kysely';
        const { db, close } = await openDatabase({ module: 'probe', url: ${JSON.stringify(url)}, dataDir: '/nonexistent', migrations: {}, log: createLogger() });
        let failed = '';
        const held = db.transaction().execute(async (tx) => {
          await sql\`SELECT 1\`.execute(tx);
          console.log('holding');
          await Bun.sleep(800);
          await sql\`SELECT 2\`.execute(tx);
        }).catch((e) => (failed = e.message));
        await held;
        const after = await sql\`SELECT 3 AS n\`.execute(db);
        console.log(JSON.stringify({ failed: failed !== '', after: after.rows[0] }));
        await close();
      `;
      const child = Bun.spawn(['bun', '-e', script], { cwd: join(import.meta.dir, '..', '..'), env: { ...process.env, LOG_LEVEL: 'error' }, stdout: 'pipe', stderr: 'pipe' });
      const reader = child.stdout.getReader();
      let out = '';
      while (!out.includes('holding')) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += new TextDecoder().decode(value);
      }
      expect(await child.exited).toBe(0);
      expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ failed: true, after: { n: 3 } });
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    }
  }, 30000);

  /** What a database says, as the driver hands it over: the error a statement that raises `state` ends with. */
  const raised = (database: ModuleDatabase, state: string) =>
    sql.raw(`DO $$ BEGIN RAISE EXCEPTION 'raised %', '${state}' USING ERRCODE = '${state}'; END $$`).execute(database.db).then(
      () => undefined,
      (error: unknown) => error,
    );
  const classified = (error: unknown) => {
    const mapped = databaseError(error);
    return mapped instanceof DomainError ? mapped.code : `kept: ${(error as { code?: string }).code}`;
  };
  /** Cannot serve now (503) — and, for contrast, what is the request's or the code's fault (kept: a 4xx/500 elsewhere). */
  const UNAVAILABLE = ['57014', '55P03', '53300', '3D000', '28000', '57P01', '08006', '40P01'];
  const KEPT = ['23505', '42601', '22P02'];

  for (const driver of ['pg', 'pglite'] as const) {
    test(`${driver} — errors are classified by SQLSTATE alike: timeouts, lost or refused connections, missing databases and roles are DATABASE.UNAVAILABLE; constraint and syntax errors are kept`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'db-classify-'));
      const database = `t_db_${crypto.randomUUID().replaceAll('-', '').slice(0, 10)}`;
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      if (driver === 'pg') await admin.query(`CREATE DATABASE "${database}"`);
      let opened: ModuleDatabase | undefined;
      try {
        const url = driver === 'pg' ? Object.assign(new URL(ADMIN_URL), { pathname: `/${database}` }).toString() : undefined;
        opened = await openDatabase({ module: 'probe', url, dataDir: dir, migrations: {}, log: quiet });
        expect(opened.kind).toBe(driver);
        for (const state of UNAVAILABLE) expect(`${state} ${classified(await raised(opened, state))}`).toBe(`${state} DATABASE.UNAVAILABLE`);
        for (const state of KEPT) expect(classified(await raised(opened, state))).toBe(`kept: ${state}`);
        // A database closed under a request (a stop) cannot serve it either.
        await opened.close();
        expect(classified(await sql`SELECT 1`.execute(opened.db).catch((e: unknown) => e))).toBe('DATABASE.UNAVAILABLE');
        opened = undefined;
      } finally {
        await opened?.close();
        if (driver === 'pg') await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
        await admin.end();
        rmSync(dir, { recursive: true, force: true });
      }
    }, 30000);
  }

  test('pg — a database that refuses, hangs, does not exist or does not know the role fails the connect within its limit (1 s), as DATABASE.UNAVAILABLE', async () => {
    const closedPort = (() => {
      const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
      const port = s.port!;
      s.stop(true);
      return port;
    })();
    // A host that accepts the connection and never says a word.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const base = new URL(ADMIN_URL);
    const urls = {
      refused: `postgres://postgres@127.0.0.1:${closedPort}/postgres`,
      hanging: `postgres://postgres@127.0.0.1:${(silent.address() as AddressInfo).port}/postgres`,
      'no database': Object.assign(new URL(ADMIN_URL), { pathname: `/t_missing_${Date.now()}` }).toString(),
      'no role': `postgres://t_nobody_${Date.now()}@${base.host}/postgres`,
    };
    for (const [what, url] of Object.entries(urls)) {
      const started = performance.now();
      const error = await openDatabase({ module: 'probe', url, dataDir: '/nonexistent', migrations: {}, log: quiet }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(`${what}: ${classified(error)}`).toBe(`${what}: DATABASE.UNAVAILABLE`);
      // (a bound that load cannot break: the limit is 1 s, nothing hangs past twice that)
      expect(performance.now() - started).toBeLessThan(2000);
    }
    silent.close();
  });
});
