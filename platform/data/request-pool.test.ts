import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import pg from 'pg';
import { databaseError, DomainError } from '../errors.ts';
import { RequestPool } from './request-pool.ts';
import { admin, urlOf } from '../../test/support/shop.ts';

/** RequestPool against the real Postgres: a queue that moves waits; one that does not is refused. */
const database = `t_rpool_${crypto.randomUUID().replaceAll('-', '').slice(0, 10)}`;
const url = urlOf(database);
const pools: RequestPool[] = [];

function poolOf(options: pg.PoolConfig, limits: { max: number; stallMs: number }) {
  const raw = new pg.Pool({ connectionString: url, max: limits.max, ...options });
  // (as db.ts does: an idle connection the server ends — the database dropped at the end — is
  // an event of the pool, not an error of the test run)
  raw.on('error', () => {});
  raw.on('connect', (client) => client.on('error', () => {}));
  const pool = new RequestPool(raw, limits);
  pools.push(pool);
  return pool;
}

async function query(pool: RequestPool, statement: string) {
  const client = await pool.connect();
  try {
    return await client.query(statement);
  } finally {
    client.release();
  }
}

const settle = async <T>(p: Promise<T>) => p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));

beforeAll(async () => {
  await admin(`CREATE DATABASE ${database}`);
  const pool = poolOf({}, { max: 1, stallMs: 5000 });
  await query(pool, 'CREATE TABLE t (id int)');
});

afterAll(async () => {
  for (const p of pools) await p.end().catch(() => {});
  await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
});

describe('RequestPool', () => {
  test('a queue that moves is latency: 40 statements on 2 connections wait far longer than the stall limit, and every one is answered', async () => {
    const pool = poolOf({}, { max: 2, stallMs: 150 });
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 40 }, () => settle(query(pool, 'SELECT pg_sleep(0.02)'))));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    // The last waited for ~19 others on its connection: more than the stall limit.
    expect(performance.now() - started).toBeGreaterThan(150);
  });

  test('a queue that does not move is refused: every connection waits on a lock, and the waiters are refused as DATABASE.UNAVAILABLE', async () => {
    const pool = poolOf({ lock_timeout: 300 } as pg.PoolConfig, { max: 2, stallMs: 150 });
    await query(pool, 'SELECT 1'); // a connection made, and an answer before the lock
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE t IN ACCESS EXCLUSIVE MODE');
    try {
      const started = performance.now();
      const results = await Promise.all(Array.from({ length: 10 }, () => settle(query(pool, 'SELECT * FROM t'))));
      expect(results.every((r) => !r.ok && databaseError(r.error) instanceof DomainError)).toBe(true);
      // The two on connections end at their lock timeout, the eight waiting at the stall limit.
      expect(performance.now() - started).toBeLessThan(2000);
      expect(pool.queued).toBe(0);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
    expect((await query(pool, 'SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
  });

  test('a connection whose statement the client gave up on is not handed out again: the next request gets a fresh one', async () => {
    const pool = poolOf({ query_timeout: 100 } as pg.PoolConfig, { max: 1, stallMs: 2000 });
    const slow = await settle(query(pool, 'SELECT pg_sleep(2)'));
    expect(slow.ok).toBe(false);
    expect(String((slow as { error: Error }).error.message)).toMatch(/Query read timeout/);
    // On the same connection this would wait behind the sleep; a new one answers at once.
    const started = performance.now();
    expect((await query(pool, 'SELECT 7 AS n')).rows).toEqual([{ n: 7 }]);
    expect(performance.now() - started).toBeLessThan(1500);
  });

  test("a busy machine's slow connect holds nobody up while an open connection is free: each request takes whichever connection comes first", async () => {
    /** A client whose connect takes 2 s, once `slow` (a machine too busy to set one up sooner). */
    let slow = false;
    class SlowConnect extends pg.Client {
      override connect(callback?: Parameters<pg.Client['connect']>[0]): any {
        const connected = Bun.sleep(slow ? 2000 : 0).then(() => super.connect());
        if (!callback) return connected;
        const done = callback as (error: Error | null) => void;
        connected.then(() => done(null), done);
      }
    }
    const pool = poolOf({ Client: SlowConnect } as pg.PoolConfig, { max: 4, stallMs: 500 });
    await pool.warm(1);
    slow = true;
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 8 }, () => settle(query(pool, 'SELECT 1'))));
    expect(results.filter((r) => !r.ok)).toEqual([]);
    // All eight on the open connection, one after another, before any new one is set up (a bound
    // that only a wait for a new connection reaches, not a latency).
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test('a refused connect is refused at once, for every request waiting', async () => {
    const raw = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none', max: 2 });
    const pool = new RequestPool(raw, { max: 2, stallMs: 5000 });
    pools.push(pool);
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 5 }, () => settle(pool.connect())));
    expect(results.every((r) => !r.ok && databaseError(r.error) instanceof DomainError)).toBe(true);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(pool.queued).toBe(0);
  });

  test('warm opens connections ahead of the first request; end refuses what waits and what comes', async () => {
    const pool = poolOf({}, { max: 1, stallMs: 5000 });
    await pool.warm(1);
    const holding = await pool.connect();
    const waiting = settle(pool.connect());
    const ending = pool.end(); // pg's pool ends once the connection in use is back
    holding.release();
    await ending;
    expect((await waiting).ok).toBe(false);
    expect((await settle(pool.connect())).ok).toBe(false);
  });
});
