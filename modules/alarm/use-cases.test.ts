import type { AlarmSet } from './contract/index.ts';
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import { copyOf } from '../../platform/bus/copy.ts';
import { MemoryBus } from '../../platform/bus/memory.ts';
import { openDatabase, type ModuleDatabase } from '../../platform/data/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { createLogger } from '../../platform/observability/log.ts';
import { Outbox } from '../../platform/data/outbox.ts';
import type { Item } from '../item/contract/index.ts';
import { alarmsBucket } from './contract/index.ts';
import { alarmModule } from './index.ts';
import type { AlarmDatabase } from './schema.ts';
import { sharedAlarms } from './service.ts';
import { alarmUseCases } from './use-cases.ts';

/** The alarm domain's use cases on its own embedded database (init_database.sql and migrations). */
const log = createLogger({ test: 'alarm' });
const dir = mkdtempSync(join(tmpdir(), 'alarm-'));
const items = new Map<number, Item>(Array.from({ length: 20 }, (_, i) => [i + 1, { id: i + 1, name: `item ${i + 1}`, broadcaster: 'cjmall', category: null, price: i }]));
let database: ModuleDatabase;
let db: Kysely<AlarmDatabase>;
let bus: MemoryBus;
let outbox: Outbox;
let alarms: ReturnType<typeof alarmUseCases>;
let nextUser = 1000;

beforeAll(async () => {
  database = await openDatabase({ module: 'alarm', url: undefined, dataDir: dir, initSql: alarmModule.initSql, migrations: alarmModule.migrations, log });
  db = database.db as Kysely<AlarmDatabase>;
  bus = new MemoryBus(log);
  outbox = new Outbox(db, bus, log);
  outbox.share(sharedAlarms());
  const bucket = await bus.bucket('alarms');
  alarms = alarmUseCases({ db, outbox, itemOf: (id) => items.get(id), published: async (userId) => (await bucket.get(String(userId)))?.value as AlarmSet | undefined });
}, 60000);

afterAll(async () => {
  await database?.close();
  rmSync(dir, { recursive: true, force: true });
});

const codeOf = (p: Promise<unknown>) => p.then(() => 'ok', (e) => (e instanceof DomainError ? e.code : String(e)));

describe('alarm use cases', () => {
  test('set — idempotent: twice is one alarm; the set lists ascending for the bus, the list descending with item fields', async () => {
    const user = nextUser++;
    await alarms.set(user, 7);
    await alarms.set(user, 3);
    await alarms.set(user, 7);
    expect(await alarms.alarmSetOf(user)).toEqual({ userId: user, itemIds: [3, 7] });
    expect(await alarms.list(user)).toEqual({ count: 2, payload: [items.get(7)!, items.get(3)!] });
    expect(Number((await db.selectFrom('alarm').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', user).executeTakeFirstOrThrow()).n)).toBe(2);
  });

  test('set — twenty at once for one item leave one row (the unique index)', async () => {
    const user = nextUser++;
    await Promise.all(Array.from({ length: 20 }, () => alarms.set(user, 5)));
    expect(await alarms.alarmSetOf(user)).toEqual({ userId: user, itemIds: [5] });
  });

  test('clear — removes the alarm; clearing one that is not set is no error', async () => {
    const user = nextUser++;
    await alarms.set(user, 2);
    await alarms.clear(user, 2);
    await alarms.clear(user, 2);
    expect(await alarms.alarmSetOf(user)).toEqual({ userId: user, itemIds: [] });
    expect(await alarms.list(user)).toEqual({ count: 0, payload: [] });
  });

  test('an unknown item is ALARM.NOT_FOUND for set and clear, and writes nothing', async () => {
    const user = nextUser++;
    expect(await codeOf(alarms.set(user, 999))).toBe('ALARM.NOT_FOUND');
    expect(await codeOf(alarms.clear(user, 999))).toBe('ALARM.NOT_FOUND');
    expect(await alarms.alarmSetOf(user)).toEqual({ userId: user, itemIds: [] });
  });

  test('a write answers once the copies of the set show it: a copy holding the old set reads the new one next', async () => {
    const user = nextUser++;
    const bucket = await bus.bucket('alarms');
    await bucket.put('_snapshot', { db: 'test', state: 'complete', at: new Date().toISOString() });
    const copy = await copyOf(bus, alarmsBucket, { capacity: 100, log });
    expect(await copy.get(user)).toBeUndefined();
    await alarms.set(user, 4);
    expect((await copy.get(user))?.itemIds).toEqual([4]);
    await alarms.clear(user, 4);
    // No alarm left: the key is gone from the bucket.
    expect(await copy.get(user)).toBeUndefined();
    await copy.stop();
  });

  test('the shared bucket pages users with alarms in id order, and reads any key again from the database', async () => {
    const users = [nextUser++, nextUser++, nextUser++];
    for (const [i, user] of users.entries()) await alarms.set(user, i + 1);
    const shared = sharedAlarms();
    const first = await shared.page(db, String(users[0]! - 1), 2);
    expect(first.entries.map((e) => e.key)).toEqual(users.slice(0, 2).map(String));
    expect(first.next).toBe(String(users[1]));
    const rest = await shared.page(db, first.next, 2);
    expect(rest.entries).toEqual([{ key: String(users[2]), value: { userId: users[2], itemIds: [3] } }]);
    expect(rest.next).toBeUndefined();
    const values = await shared.values(db, [String(users[0]), 'nobody', String(nextUser + 100)]);
    expect(Object.fromEntries(values)).toEqual({ [String(users[0])]: { userId: users[0], itemIds: [1] }, nobody: null, [String(nextUser + 100)]: null });
  });
});
