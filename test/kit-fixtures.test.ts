import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { kitFile, PG_ADMIN_URL, SHARED_DIR, startShop, type Backend, type Shop } from './support/shop.ts';
import type { Item } from '../modules/item/contract/index.ts';

/**
 * The services on databases created from the kit's original init_database.sql files, untouched:
 * on Postgres loaded with psql exactly as the Postgres image's entrypoint would, and on PGlite
 * through the embedded loader. The files live next to the project (../shared), never in it; a
 * clone without that folder skips these tests, a clone with it and without the files fails.
 */

type Json = any;

/** The COPY rows of a kit file, read without the project's loader: tab-separated, `\N` is NULL. */
function kitRows(module: string): (string | null)[][] {
  const lines = readFileSync(kitFile(module), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith('COPY '));
  const end = lines.indexOf('\\.', start);
  return lines.slice(start + 1, end).map((l) => l.split('\t').map((f) => (f === '\\N' ? null : f)));
}

describe.skipIf(!existsSync(SHARED_DIR))("the kit's original data", () => {
  // Read in a hook: a skipped describe's body still runs, and must not touch the missing files.
  let items: Item[] = [];
  let users: { id: number; name: string; access_token: string }[] = [];
  beforeAll(() => {
    items = kitRows('item')
      .map(([id, name, broadcaster, category, price]) => ({ id: Number(id), name: name!, broadcaster: broadcaster!, category: category ?? null, price: Number(price) }))
      .sort((a, b) => b.id - a.id);
    users = kitRows('user')
      .map(([id, name, access_token]) => ({ id: Number(id), name: name!, access_token: access_token! }))
      .sort((a, b) => b.id - a.id);
  });
  const tokenOf = (id: number) => users.find((u) => u.id === id)!.access_token;

  test("kit files — hold what the contract says: 100 items, 50 users, no alarm, null categories, trailing spaces", () => {
    expect(items).toHaveLength(100);
    expect(users).toHaveLength(50);
    expect(kitRows('alarm')).toEqual([]);
    expect(items.filter((i) => i.category === null)).toHaveLength(2);
    expect(items.filter((i) => i.price === 0)).toHaveLength(7);
    expect(items.filter((i) => i.name.endsWith(' ')).length).toBeGreaterThan(0);
  });

  describe.each(['pg', 'pglite'] as Backend[])('on %s', (backend) => {
    let shop: Shop;
    const get = (api: 'item' | 'alarm' | 'user', path: string, token: string) => shop[api].call('GET', path, { token });
    const alarm = async (method: 'POST' | 'DELETE', itemId: unknown, token: string) => (await shop.alarm.call(method, '/', { token, body: { item_id: itemId } })).status;

    beforeAll(async () => {
      shop = await startShop({ backend, data: 'kit' });
    }, 60000);

    afterAll(async () => {
      await shop?.stop();
    }, 30000);

    test('kit items — all 100 are served, id descending, exactly as the file holds them', async () => {
      const { status, body } = await get('item', '/', tokenOf(1));
      expect(status).toBe(200);
      expect(body.count).toBe(100);
      expect(body.payload.map((i: Item) => i.id)).toEqual(Array.from({ length: 100 }, (_, i) => 100 - i));
      expect(body.payload).toEqual(items.map((i) => ({ ...i, is_alarm_set: false })));
    });

    test('kit items — a null category is rendered as null, in the list and in the detail', async () => {
      const { body } = await get('item', '/', tokenOf(2));
      const nulls = body.payload.filter((i: Json) => i.category === null);
      expect(nulls.map((i: Item) => i.id)).toEqual(items.filter((i) => i.category === null).map((i) => i.id));
      for (const i of nulls) {
        const detail = await get('item', `/${i.id}`, tokenOf(2));
        expect(detail.body.payload.category).toBeNull();
        expect('category' in detail.body.payload).toBe(true);
      }
    });

    test('kit items — names ending with a space are kept byte-exact', async () => {
      const trailing = items.filter((i) => i.name.endsWith(' '));
      const { body } = await get('item', '/', tokenOf(3));
      for (const item of trailing) {
        const served = body.payload.find((i: Item) => i.id === item.id).name;
        expect(Buffer.from(served)).toEqual(Buffer.from(item.name));
      }
      const detail = await get('item', `/${trailing[0]!.id}`, tokenOf(3));
      expect(detail.body.payload.name).toBe(trailing[0]!.name);
      expect((await get('user', '/visit', tokenOf(3))).body.payload[0].name).toBe(trailing[0]!.name);
    });

    test('kit users — all 50 are served, id descending, and their tokens authenticate', async () => {
      const { status, body } = await get('user', '/', tokenOf(10));
      expect(status).toBe(200);
      expect(body).toEqual({ count: 50, payload: users });
      for (const api of ['item', 'alarm', 'user'] as const) expect((await get(api, '/', tokenOf(50))).status).toBe(200);
    });

    test("kit alarms — set, list and clear work on the kit's alarm table", async () => {
      const token = tokenOf(10);
      const trailing = items.find((i) => i.name.endsWith(' '))!;
      const nullCategory = items.find((i) => i.category === null)!;
      expect(await alarm('POST', trailing.id, token)).toBe(201);
      expect(await alarm('POST', String(nullCategory.id), token)).toBe(201);
      expect(await alarm('POST', trailing.id, token)).toBe(201);
      const expected = [trailing, nullCategory].sort((a, b) => b.id - a.id);
      expect((await get('alarm', '/', token)).body).toEqual({ count: 2, payload: expected });
      expect((await get('item', `/${trailing.id}`, token)).body.payload.is_alarm_set).toBe(true);
      expect((await get('item', `/${trailing.id}`, tokenOf(11))).body.payload.is_alarm_set).toBe(false);
      expect(await alarm('DELETE', nullCategory.id, token)).toBe(200);
      expect((await get('alarm', '/', token)).body).toEqual({ count: 1, payload: [trailing] });
      expect(await alarm('POST', 101, token)).toBe(404);
    });

    if (backend === 'pg') {
      test("kit databases — the services' migrations ran on top of the kit's schema, which is unchanged", async () => {
        const query = async (module: string, text: string) => {
          const url = new URL(PG_ADMIN_URL);
          url.pathname = `/${shop.databases[module]}`;
          const client = new pg.Client({ connectionString: url.toString() });
          await client.connect();
          try {
            return (await client.query(text)).rows;
          } finally {
            await client.end();
          }
        };
        const columns = (table: string) =>
          `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_schema = 'public' AND table_name = '${table}' ORDER BY ordinal_position`;
        expect(await query('alarm', columns('alarm'))).toEqual([
          { column_name: 'id', data_type: 'integer', is_nullable: 'NO' },
          { column_name: 'item_id', data_type: 'integer', is_nullable: 'YES' },
          { column_name: 'user_id', data_type: 'integer', is_nullable: 'YES' },
          { column_name: 'created', data_type: 'timestamp without time zone', is_nullable: 'YES' },
        ]);
        expect(await query('alarm', `SELECT indexname FROM pg_indexes WHERE tablename = 'alarm' AND indexname = 'alarm_user_item'`)).toHaveLength(1);
        expect(await query('user', `SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'visit'`)).toHaveLength(1);
        for (const m of ['item', 'alarm', 'user']) {
          expect(await query(m, `SELECT 1 FROM pg_tables WHERE schemaname = 'public' AND tablename = 'platform_outbox'`)).toHaveLength(1);
        }
      });
    }
  });
});
