import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { scratchDatabase, sharedThings } from '../../test/support/scratch.ts';
import { MemoryBus } from '../bus/memory.ts';
import type { Bus } from '../bus/types.ts';
import type { ModuleDatabase } from './db.ts';
import { DomainError } from '../errors.ts';
import { createLogger } from '../observability/log.ts';
import { Outbox } from './outbox.ts';
import { currentRequestId, inbound, outgoingHeaders } from '../observability/request-context.ts';
import { unitOfWork } from './unit-of-work.ts';

const log = createLogger({ test: 'outbox' });

/** A bus whose connection can be "cut": every operation fails like a disconnected NATS would. */
function cuttable(inner: MemoryBus) {
  let up = true;
  const listeners: (() => void)[] = [];
  const guard = () => {
    if (!up) throw new DomainError('BUS.UNAVAILABLE', 'disconnected');
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
    awaitConnection: async () => up,
    vouches: () => up,
    addService: (s) => inner.addService(s),
    request: (s, p, o) => inner.request(s, p, o),
    bucket: async (name) => {
      const b = await inner.bucket(name);
      return {
        ...b,
        name,
        put: async (k, v) => (guard(), b.put(k, v)),
        delete: async (k) => (guard(), b.delete(k)),
        putMany: async (e) => (guard(), b.putMany(e)),
        get: async (k) => (guard(), b.get(k)),
      };
    },
    follow: (b, f) => inner.follow(b, f),
    hold: (b, d) => inner.hold(b, d),
    ensureStream: (s) => inner.ensureStream(s),
    publish: async (s, p, o) => (guard(), inner.publish(s, p, o)),
    consume: (s) => inner.consume(s),
    close: () => inner.close(),
  };
  return bus;
}

const things = sharedThings();

for (const backend of ['pglite', 'pg'] as const) {
  describe(`outbox on ${backend}`, () => {
    let database: ModuleDatabase;
    let drop: () => Promise<void>;

    beforeAll(async () => {
      ({ database, drop } = await scratchDatabase(backend, log));
    }, 60000);

    afterAll(() => drop?.());

    const setup = async () => {
      const memory = new MemoryBus(log);
      const bus = cuttable(memory);
      const outbox = new Outbox(database.db, bus, log);
      outbox.share(things);
      await memory.ensureStream({ name: 'EV', subjects: ['ev.>'] });
      const seen: string[] = [];
      await memory.consume({ stream: 'EV', durable: 'd', handler: async (e) => void seen.push(e.msgId) });
      const bucket = await memory.bucket('things');
      const valueOf = async (key: string) => (await bucket.get(key))?.value;
      const dropped: string[] = [];
      await memory.hold('things', { drop: (keys) => void dropped.push(...keys), reset: () => {} });
      return { bus, memory, outbox, seen, valueOf, dropped };
    };

    test('an event written in a transaction is published after commit, once', async () => {
      const { outbox, seen } = await setup();
      await database.db.transaction().execute(async (tx) => {
        await outbox.event(tx, 'ev.one', { a: 1 }, 'm-1');
      });
      expect(await outbox.flush(2000)).toBe('done');
      expect(await outbox.flush(2000)).toBe('done');
      expect(seen).toEqual(['m-1']);
      const left = await database.db.selectFrom('platform_outbox').selectAll().execute();
      expect(left).toHaveLength(0);
    });

    test('an event carries the request id and trace of the request that recorded it, whichever request relays it', async () => {
      const { outbox, memory } = await setup();
      const got: { msgId: string; requestId?: string; traceparent?: string }[] = [];
      const consumer = await memory.consume({
        stream: 'EV',
        durable: 'ids',
        handler: async (e) => void got.push({ msgId: e.msgId, requestId: currentRequestId(), traceparent: outgoingHeaders().traceparent }),
      });
      const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
      const asRequest = <T>(id: string, tp: string | undefined, fn: () => Promise<T>) =>
        inbound('request', 'test', (name) => (name === 'X-Request-Id' ? id : name === 'traceparent' ? tp : undefined), log, fn);
      await asRequest('req-a', TP, () => database.db.transaction().execute((tx) => outbox.event(tx, 'ev.one', {}, 'm-ctx-a')));
      await database.db.transaction().execute((tx) => outbox.event(tx, 'ev.one', {}, 'm-ctx-none'));
      // Relayed while another request is handled: each event keeps its own.
      expect(await asRequest('req-b', undefined, () => outbox.flush(2000))).toBe('done');
      expect(await consumer.caughtUp(2000)).toBe(true);
      expect(got).toEqual([
        { msgId: 'm-ctx-a', requestId: 'req-a', traceparent: TP },
        { msgId: 'm-ctx-none', requestId: undefined, traceparent: undefined },
      ]);
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

    test('a snapshot row puts the current value of its key, and deletes a key whose row is gone; holders drop the key first', async () => {
      const { outbox, valueOf, dropped } = await setup();
      await database.db.transaction().execute(async (tx) => {
        await tx.insertInto('thing').values({ id: 1, v: 'first' }).execute();
        await outbox.snapshot(tx, 'things', '1');
      });
      await database.db.transaction().execute(async (tx) => {
        await tx.updateTable('thing').set({ v: 'second' }).where('id', '=', 1).execute();
        await outbox.snapshot(tx, 'things', '1');
      });
      expect(await outbox.flush(2000)).toBe('done');
      expect(await valueOf('1')).toEqual({ id: 1, v: 'second' });
      expect(dropped).toEqual(['1']);
      await database.db.transaction().execute(async (tx) => {
        await tx.deleteFrom('thing').where('id', '=', 1).execute();
        await outbox.snapshot(tx, 'things', '1');
      });
      expect(await outbox.flush(2000)).toBe('done');
      expect(await valueOf('1')).toBeUndefined();
    });

    test('many writes to one key keep one outbox row', async () => {
      const { outbox } = await setup();
      for (let i = 0; i < 5; i++) await outbox.snapshot(database.db, 'things', '7');
      const rows = await database.db.selectFrom('platform_outbox').select(['key', 'version']).where('key', '=', '7').execute();
      expect(rows).toEqual([{ key: '7', version: 5 }]);
      expect(await outbox.flush(2000)).toBe('done');
    });

    test('while the bus is down rows wait, and the relay catches up when it returns', async () => {
      const { bus, outbox, seen, valueOf } = await setup();
      bus.cut(true);
      await database.db.transaction().execute(async (tx) => {
        await tx.insertInto('thing').values({ id: 2, v: 'offline' }).execute();
        await outbox.snapshot(tx, 'things', '2');
        await outbox.event(tx, 'ev.two', {}, 'm-2');
      });
      expect(await outbox.flush(500)).toBe('bus-down');
      expect(seen).toEqual([]);
      expect(await database.db.selectFrom('platform_outbox').select('id').execute()).toHaveLength(2);
      bus.cut(false);
      expect(await outbox.flush(2000)).toBe('done');
      expect(seen).toEqual(['m-2']);
      expect(await valueOf('2')).toEqual({ id: 2, v: 'offline' });
    });

    test('a unit of work: durable and settled on 2xx; with NATS down it stands and waits; unconfirmed copies are a 503', async () => {
      const { bus, memory, outbox, valueOf } = await setup();
      const write = unitOfWork(database.db, outbox, 300);
      await write(async (tx, changes) => {
        await tx.insertInto('thing').values({ id: 30, v: 'settled' }).execute();
        await changes.snapshot('things', '30');
      });
      expect(await valueOf('30')).toEqual({ id: 30, v: 'settled' });
      bus.cut(true);
      await write(async (tx, changes) => {
        await tx.updateTable('thing').set({ v: 'waits' }).where('id', '=', 30).execute();
        await changes.snapshot('things', '30');
      });
      expect(await valueOf('30')).toEqual({ id: 30, v: 'settled' });
      bus.cut(false);
      expect(await outbox.flush(2000)).toBe('done');
      expect(await valueOf('30')).toEqual({ id: 30, v: 'waits' });
      // A holder that never confirms: the bucket's settle reports false.
      const original = memory.bucket.bind(memory);
      (bus as { bucket: Bus['bucket'] }).bucket = async (name) => ({ ...(await original(name)), settle: async () => false });
      const unconfirmed = new Outbox(database.db, bus, log);
      unconfirmed.share(things);
      const error = await unitOfWork(database.db, unconfirmed, 300)(async (tx, changes) => {
        await tx.updateTable('thing').set({ v: 'late' }).where('id', '=', 30).execute();
        await changes.snapshot('things', '30');
      }).catch((e) => e);
      expect(error).toBeInstanceOf(DomainError);
      expect((error as DomainError).code).toBe('BUS.TIMEOUT');
      // Saved all the same.
      expect(await database.db.selectFrom('thing').select('v').where('id', '=', 30).executeTakeFirst()).toEqual({ v: 'late' });
      // An event alone needs no confirmation.
      await unitOfWork(database.db, unconfirmed, 300)((tx, changes) => changes.event('ev.alone', {}, 'm-alone'));
      await database.db.deleteFrom('thing').execute();
      await database.db.deleteFrom('platform_outbox').execute();
    });

    test('a pass relays the rows there when it started, however many writers keep adding', async () => {
      const { outbox } = await setup();
      let writing = true;
      let written = 0;
      const writers = (async () => {
        while (writing) {
          await outbox.event(database.db, 'ev.busy', {}, `busy-${written++}`);
        }
      })();
      for (let i = 0; i < 3; i++) expect(await outbox.flush(5000)).toBe('done');
      writing = false;
      await writers;
      expect(written).toBeGreaterThan(0);
      await outbox.flush(5000);
      await database.db.deleteFrom('platform_outbox').execute();
    });

    test('a relay failing midway keeps the rows it did not publish', async () => {
      const { bus, outbox } = await setup();
      await outbox.event(database.db, 'nowhere.x', {}, 'm-no-stream');
      expect(await outbox.flush(1000)).toBe('failed');
      expect(await database.db.selectFrom('platform_outbox').select('msg_id').execute()).toEqual([{ msg_id: 'm-no-stream' }]);
      await database.db.deleteFrom('platform_outbox').execute();
      expect(bus.connected).toBe(true);
    });
  });
}
