import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestSystem, type TestSystem } from './support/system.ts';

/**
 * The modules on databases created from the kit's original init_database.sql files, loaded with
 * psql exactly as the Postgres image's entrypoint would. The files live outside the project
 * (../shared); in a clone without it these tests are skipped.
 */
const kit = join(import.meta.dir, '..', '..', 'shared', 'fixtures', 'homeshopping');
const KIT_T10 = 'ae0d863d-6963-41a2-919e-66e0695be7d7';
type Json = Record<string, any>;

describe.skipIf(!existsSync(kit))("the kit's original databases", () => {
  let t: TestSystem;
  const get = async (port: number, path: string, token = KIT_T10) => {
    const res = await t.call(port, path, { headers: { 'USER-TOKEN': token } });
    return { status: res.status, body: (await res.json()) as Json };
  };

  beforeAll(async () => {
    t = await startTestSystem('pg', {
      load: async (module, url) => {
        const run = Bun.spawnSync(['psql', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', join(kit, module, 'init_database.sql')], { stderr: 'pipe' });
        if (run.exitCode !== 0) throw new Error(`psql failed for ${module}: ${run.stderr}`);
      },
    });
  }, 60000);

  afterAll(async () => {
    await t?.stop();
  }, 30000);

  test('serves the kit\'s 100 items, id descending, null categories as null', async () => {
    const { status, body } = await get(5001, '/');
    expect(status).toBe(200);
    expect(body.count).toBe(100);
    expect(body.payload.map((i: Json) => i.id)).toEqual(Array.from({ length: 100 }, (_, i) => 100 - i));
    expect(body.payload.filter((i: Json) => i.category === null)).toHaveLength(2);
    expect(body.payload.filter((i: Json) => i.price === 0)).toHaveLength(7);
  });

  test('keeps names byte-exact, trailing spaces included', async () => {
    const dump = readFileSync(join(kit, 'item', 'init_database.sql'), 'utf8');
    const rows = dump.split('\n').filter((l) => /^\d+\t/.test(l)).map((l) => l.split('\t'));
    const trailing = rows.filter((r) => r[1]!.endsWith(' '));
    expect(trailing.length).toBeGreaterThan(0);
    const { body } = await get(5001, '/');
    for (const r of rows) expect(body.payload.find((i: Json) => i.id === Number(r[0])).name).toBe(r[1]);
  });

  test("authenticates the kit's 50 users by their tokens", async () => {
    const { status, body } = await get(7001, '/');
    expect(status).toBe(200);
    expect(body.count).toBe(50);
    expect(body.payload.find((u: Json) => u.id === 10)).toEqual({ id: 10, name: '박규경', access_token: KIT_T10 });
  });

  test('sets and lists alarms on top of the kit\'s alarm table (migrations ran after it)', async () => {
    const post = await t.call(6001, '/', { method: 'POST', headers: { 'USER-TOKEN': KIT_T10, 'content-type': 'application/json' }, body: '{"item_id":"77"}' });
    expect(post.status).toBe(201);
    const list = await get(6001, '/');
    expect(list.body.payload.map((i: Json) => i.id)).toEqual([77]);
    expect((await get(5001, '/77')).body.payload.is_alarm_set).toBe(true);
    expect((await get(7001, '/visit')).body.payload.map((i: Json) => i.id)).toEqual([77]);
  });
});
