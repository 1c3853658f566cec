import { describe, expect, test } from 'bun:test';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { PG_ADMIN } from '../../test/support/split.ts';
import { copyCheck, databaseCheck, Readiness } from './health.ts';

describe('readiness', () => {
  test('one check at a time, its answer kept for a second: probes cost nothing', async () => {
    let now = 0;
    let runs = 0;
    let problem: string | undefined = 'feed database unreachable';
    const readiness = new Readiness(() => [async () => (runs++, problem), () => undefined], 1000, () => now);
    const first = await Promise.all([readiness.response(), readiness.response(), readiness.response()]);
    expect(runs).toBe(1);
    for (const res of first) expect({ status: res.status, body: await res.json() }).toEqual({ status: 503, body: { result: 'Service Unavailable', hint: 'feed database unreachable' } });
    problem = undefined;
    now = 999;
    expect((await readiness.response()).status).toBe(503); // still the kept answer
    now = 1000;
    const again = await readiness.response();
    expect({ runs, status: again.status, body: await again.json() }).toEqual({ runs: 2, status: 200, body: { status: 'ready' } });
  });

  test('every problem is named once, in the order of the checks', async () => {
    const readiness = new Readiness(() => [() => 'item database unreachable', copyCheck('users', { ready: () => false }), copyCheck('items', { ready: () => true }), () => 'item database unreachable']);
    expect(await readiness.problems()).toEqual(['item database unreachable', 'copy of users not ready']);
  });

  test('databaseCheck — select 1 answers: ready; a closed database or one slower than the timeout: unreachable', async () => {
    const db = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: PG_ADMIN, max: 1 }) }) });
    expect(await databaseCheck('feed', db)()).toBeUndefined();
    // A "database" that accepts the connection and never says a word.
    const silent = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
    const slow = new Kysely<any>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: `postgres://x@127.0.0.1:${silent.port}/x` }) }) });
    const started = performance.now();
    expect(await databaseCheck('feed', slow, 100)()).toBe('feed database unreachable');
    // (bounded at 100 ms; the bound only catches a hang)
    expect(performance.now() - started).toBeLessThan(2000);
    silent.stop(true);
    void slow.destroy().catch(() => {});
    await db.destroy();
    expect(await databaseCheck('feed', db)()).toBe('feed database unreachable');
  }, 30000);
});
