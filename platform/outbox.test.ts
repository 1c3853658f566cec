import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MemoryBus } from './bus/memory.ts';
import type { Bus } from './bus/types.ts';
import { openDatabase, type ModuleDatabase } from './db.ts';
import { createLogger } from './log.ts';
import { Outbox } from './outbox.ts';

const log = createLogger({ test: 'outbox' });
const PG = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A bus whose connection can be "cut": every operation fails like a disconnected NATS would. */
function cuttable(inner: MemoryBus) {
  let up = true;
  const listeners: (() => void)[] = [];
  const guard = () => {
    if (!up) throw Object.assign(new Error('disconnected'), { code: 'BUS.UNAVAILABLE' });
  };
  const bus: Bus & { cut(v: boolean): void } = {
    kind: 'memory',
    get connected() {
      return up;
    },
    cut: (v) => {
      up = !v;
      if (up) for (const l of listeners) l();
    },
    onReconnect: (l) => void listeners.push(l),
    addService: (s) => inner.addService(s),
    request: (s, p, o) => inner.request(s, p, o),
    bucket: async (name) => {
      const b = await inner.bucket(name);
      return { ...b, name, put: async (k, v) => (guard(), b.put(k, v)), delete: async (k) => (guard(), b.delete(k)) };
    },
    replica: (b, o) => inner.replica(b, o),
    ensureStream: (s) => inner.ensureStream(s),
    publish: async (s, p, o) => (guard(), inner.publish(s, p, o)),
    consume: (s) => inner.consume(s),
    close: () => inner.close(),
  };
  return bus;
}

for (const backend of ['pglite', 'pg'] as const) {
  describe(`outbox on ${backend}`, () => {
    let database: ModuleDatabase;
    let dir: string;
    let dbName: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'outbox-'));
      let url: string | undefined;
      if (backend === 'pg') {
        dbName = `t_outbox_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
        const admin = new pg.Client({ connectionString: PG });
        await admin.connect();
        await admin.query(`CREATE DATABASE ${dbName}`);
        await admin.end();
        url = `postgres://postgres@127.0.0.1:5432/${dbName}`;
      }
      database = await openDatabase({ module: 'outboxtest', url, dataDir: dir, migrations: {}, log });
      await database.db.schema.createTable('thing').addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('v', 'text').execute();
    }, 60000);

    afterAll(async () => {
      await database?.close();
      rmSync(dir, { recursive: true, force: true });
      if (backend === 'pg') {
        const admin = new pg.Client({ connectionString: PG });
        await admin.connect();
        await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`);
        await admin.end();
      }
    });

    const setup = async () => {
      const memory = new MemoryBus(log);
      const bus = cuttable(memory);
      const outbox = new Outbox(database.db, database.kind, bus, log);
      outbox.snapshotSource('things', async (db, key) => {
        const row = await db.selectFrom('thing').select(['id', 'v']).where('id', '=', Number(key)).executeTakeFirst();
        return row ?? null;
      });
      await memory.ensureStream({ name: 'EV', subjects: ['ev.>'] });
      const seen: string[] = [];
      await memory.consume({ stream: 'EV', durable: 'd', handler: async (e) => void seen.push(e.msgId) });
      const replica = await memory.replica<{ id: number; v: string }>('things', { parse: (v) => v as { id: number; v: string } });
      return { bus, outbox, seen, replica };
    };

    test('an event written in a transaction is published after commit, once', async () => {
      const { outbox, seen } = await setup();
      await database.db.transaction().execute(async (tx) => {
        await outbox.event(tx, 'ev.one', { a: 1 }, 'm-1');
      });
      expect(await outbox.flush(2000)).toBe(true);
      expect(await outbox.flush(2000)).toBe(true);
      expect(seen).toEqual(['m-1']);
      const left = await database.db.selectFrom('platform_outbox').selectAll().execute();
      expect(left).toHaveLength(0);
    });

    test('an event of a rolled-back transaction is never published', async () => {
      const { outbox, seen } = await setup();
      await database.db
        .transaction()
        .execute(async (tx) => {
          await outbox.event(tx, 'ev.one', {}, 'm-rolled-back');
          throw new Error('abort');
        })
        .catch(() => {});
      await outbox.flush(2000);
      expect(seen).toEqual([]);
    });

    test('a snapshot row puts the current value of its key, and deletes a key whose row is gone', async () => {
      const { outbox, replica } = await setup();
      await database.db.transaction().execute(async (tx) => {
        await tx.insertInto('thing').values({ id: 1, v: 'first' }).execute();
        await outbox.snapshot(tx, 'things', '1');
      });
      await database.db.transaction().execute(async (tx) => {
        await tx.updateTable('thing').set({ v: 'second' }).where('id', '=', 1).execute();
        await outbox.snapshot(tx, 'things', '1');
      });
      expect(await outbox.flush(2000)).toBe(true);
      expect(replica.get('1')).toEqual({ id: 1, v: 'second' });
      await database.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('thing').where('id', '=', 1).execute();
        await outbox.snapshot(tx, 'things', '1');
      });
      expect(await outbox.flush(2000)).toBe(true);
      expect(replica.get('1')).toBeUndefined();
    });

    test('many writes to one key keep one outbox row', async () => {
      const { outbox } = await setup();
      for (let i = 0; i < 5; i++) await outbox.snapshot(database.db, 'things', '7');
      const rows = await database.db.selectFrom('platform_outbox').select(['key', 'version']).where('key', '=', '7').execute();
      expect(rows).toEqual([{ key: '7', version: 5 }]);
      expect(await outbox.flush(2000)).toBe(true);
    });

    test('while the bus is down rows wait, and the relay catches up when it returns', async () => {
      const { bus, outbox, seen, replica } = await setup();
      bus.cut(true);
      await database.db.transaction().execute(async (tx) => {
        await tx.insertInto('thing').values({ id: 2, v: 'offline' }).execute();
        await outbox.snapshot(tx, 'things', '2');
        await outbox.event(tx, 'ev.two', {}, 'm-2');
      });
      expect(await outbox.flush(500)).toBe(false);
      expect(seen).toEqual([]);
      expect(await database.db.selectFrom('platform_outbox').select('id').execute()).toHaveLength(2);
      bus.cut(false);
      expect(await outbox.flush(2000)).toBe(true);
      expect(seen).toEqual(['m-2']);
      expect(replica.get('2')).toEqual({ id: 2, v: 'offline' });
    });

    test('publishAll puts every key now, and again after the bus reconnects (a NATS that lost its store)', async () => {
      const { bus, outbox, replica } = await setup();
      await database.db.insertInto('thing').values([{ id: 10, v: 'a' }, { id: 11, v: 'b' }]).execute();
      await outbox.publishAll('things', async () => ['10', '11']);
      expect(await outbox.flush(2000)).toBe(true);
      expect(replica.get('11')).toEqual({ id: 11, v: 'b' });
      const before = (replica as unknown as { revision: number }).revision;
      bus.cut(true);
      bus.cut(false);
      await Bun.sleep(0);
      expect(await outbox.flush(2000)).toBe(true);
      expect((replica as unknown as { revision: number }).revision).toBeGreaterThanOrEqual(before + 2);
      await database.db.deleteFrom('thing').execute();
    });

    test('a relay failing midway keeps the rows it did not publish', async () => {
      const { bus, outbox } = await setup();
      await outbox.event(database.db, 'nowhere.x', {}, 'm-no-stream');
      expect(await outbox.flush(1000)).toBe(false);
      expect(await database.db.selectFrom('platform_outbox').select('msg_id').execute()).toEqual([{ msg_id: 'm-no-stream' }]);
      await database.db.deleteFrom('platform_outbox').execute();
      expect(bus.connected).toBe(true);
    });
  });
}
