import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { sql } from 'kysely';
import { scratchDatabase, sharedThings } from '../../test/support/scratch.ts';
import { SNAPSHOT_MARKER } from '../bus/copy.ts';
import { MemoryBus } from '../bus/memory.ts';
import type { ModuleDatabase } from './db.ts';
import { createLogger } from '../observability/log.ts';
import { Outbox } from './outbox.ts';
import { PAGE_SIZE, reconcileBucket } from './snapshot.ts';

const log = createLogger({ test: 'snapshot' });
const ROWS = 12_000;

for (const backend of ['pglite', 'pg'] as const) {
  describe(`snapshot buckets on ${backend}`, () => {
    let database: ModuleDatabase;
    let drop: () => Promise<void>;
    let identity: string;

    beforeAll(async () => {
      ({ database, drop } = await scratchDatabase(backend, log));
      await sql`INSERT INTO thing SELECT g, 'v' || g FROM generate_series(1, ${sql.lit(ROWS)}) g`.execute(database.db);
      identity = String((await database.db.selectFrom('platform_identity').select('id').executeTakeFirstOrThrow()).id);
    }, 60000);

    afterAll(() => drop?.());

    const run = async (bus: MemoryBus, calls = { page: [] as (string | undefined)[], values: [] as number[] }, stopped = () => false) =>
      reconcileBucket({ db: database.db, identity, shared: sharedThings(calls), bucket: await bus.bucket('things'), log, stopped });

    const bucketEquals = async (bus: MemoryBus) => {
      const bucket = await bus.bucket('things');
      const rows = await database.db.selectFrom('thing').select(['id', 'v']).orderBy('id').execute();
      let keys = 0;
      for await (const batch of bucket.keys(5000)) keys += batch.length;
      expect(keys).toBe(rows.length);
      for (const row of rows) expect((await bucket.get(String(row.id)))?.value).toEqual(row);
    };

    test('an empty bucket is filled in pages — no statement per key — and marked complete for this database', async () => {
      const bus = new MemoryBus(log);
      const calls = { page: [] as (string | undefined)[], values: [] as number[] };
      expect(await run(bus, calls)).toBe('filled');
      const pages = Math.ceil(ROWS / PAGE_SIZE);
      expect(calls.page).toHaveLength(pages);
      // Nothing was written meanwhile: nothing to read again.
      expect(calls.values).toEqual([]);
      expect((await (await bus.bucket('things')).get(SNAPSHOT_MARKER))?.value).toMatchObject({ db: identity, state: 'complete' });
      await bucketEquals(bus);
    });

    test('a restart on the same database writes nothing', async () => {
      const bus = new MemoryBus(log);
      await run(bus);
      const bucket = await bus.bucket('things');
      const size = await bucket.size();
      const revision = await bucket.put('probe', 1);
      await bucket.delete('probe');
      const calls = { page: [] as (string | undefined)[], values: [] as number[] };
      expect(await run(bus, calls)).toBe('current');
      expect(calls).toEqual({ page: [], values: [] });
      expect(await bucket.size()).toBe(size + 1);
      expect(await bucket.put('probe', 2)).toBe(revision + 2);
    });

    test("a bucket of another database is filled again and loses the keys this database does not back", async () => {
      const bus = new MemoryBus(log);
      const bucket = await bus.bucket('things');
      await bucket.put(SNAPSHOT_MARKER, { db: 'another', state: 'complete', at: new Date().toISOString() });
      await bucket.put('999999', { id: 999999, v: 'stray' });
      await bucket.put('5', { id: 5, v: 'stale' });
      expect(await run(bus)).toBe('filled');
      expect(await bucket.get('999999')).toBeNull();
      await bucketEquals(bus);
    });

    test('a fill that stopped resumes after the last page it recorded', async () => {
      const bus = new MemoryBus(log);
      let pages = 0;
      const calls = { page: [] as (string | undefined)[], values: [] as number[] };
      expect(await run(bus, calls, () => ++pages > 1)).toBe('stopped');
      expect((await (await bus.bucket('things')).get(SNAPSHOT_MARKER))?.value).toMatchObject({ state: 'filling', after: String(PAGE_SIZE) });
      const resumed = { page: [] as (string | undefined)[], values: [] as number[] };
      expect(await run(bus, resumed)).toBe('filled');
      expect(resumed.page[0]).toBe(String(PAGE_SIZE));
      await bucketEquals(bus);
    });

    test('writes relayed while the bucket fills: the bucket ends on the current value of every row', async () => {
      const bus = new MemoryBus(log);
      const outbox = new Outbox(database.db, bus, log);
      outbox.share(sharedThings({ page: [], values: [] }));
      let writing = true;
      const writes = (async () => {
        for (let i = 0; writing; i++) {
          const id = 1 + ((i * 7919) % ROWS);
          await database.db.transaction().execute(async (tx) => {
            await tx.updateTable('thing').set({ v: `w${i}` }).where('id', '=', id).execute();
            await outbox.snapshot(tx, 'things', String(id));
          });
          await outbox.flush(2000);
        }
      })();
      await run(bus);
      writing = false;
      await writes;
      expect(await outbox.flush(2000)).toBe('done');
      await bucketEquals(bus);
      await outbox.stop();
    });
  });
}
