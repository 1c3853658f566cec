import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import pg from 'pg';

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
        import { createLogger } from ${JSON.stringify(join(import.meta.dir, 'log.ts'))};
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
      const child = Bun.spawn(['bun', '-e', script], { cwd: join(import.meta.dir, '..'), env: { ...process.env, LOG_LEVEL: 'error' }, stdout: 'pipe', stderr: 'pipe' });
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
});
