import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Kysely } from 'kysely';
import { embeddedDatabase } from '../../test/support/scratch.ts';
import { migrations } from './migrations.ts';
import { insertVisit, insertVisits, recentVisits } from './queries.ts';
import type { UserDatabase } from './schema.ts';

/**
 * The recent-visit rule against a real (embedded) database with the module's own visit table.
 * Visit ids are UUIDv7 in production; here they are built from a counter, so their order is
 * the order the test gives.
 */
let db: Kysely<UserDatabase>;
let queries = 0;
let seq = 0;
let nextUser = 1;

const visitId = (n: number) => `00000000-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;
/** Records visits of `itemIds`, oldest first, for a user of its own; returns the user id. */
async function visited(itemIds: number[], userId = nextUser++): Promise<number> {
  for (const itemId of itemIds) {
    await insertVisit(db, { visitId: visitId(++seq), userId, itemId, at: new Date().toISOString() });
  }
  return userId;
}

beforeAll(async () => {
  db = await embeddedDatabase<UserDatabase>([migrations['2026_11_23_0001_visit']!], (sql) => {
    if (/from "visit"/i.test(sql)) queries++;
  });
}, 30000);

afterAll(async () => {
  await db?.destroy();
});

describe('recent visits', () => {
  test('recent visits — A, B, C, D, E, E gives E, D, C', async () => {
    expect(await recentVisits(db, await visited([1, 2, 3, 4, 5, 5]))).toEqual([5, 4, 3]);
  });

  test('recent visits — A, B, A gives A, B, A: only consecutive repeats collapse', async () => {
    expect(await recentVisits(db, await visited([1, 2, 1]))).toEqual([1, 2, 1]);
  });

  test('recent visits — hold at most `limit` entries, 3 by default', async () => {
    const user = await visited([1, 2, 3, 4, 5, 6, 7]);
    expect(await recentVisits(db, user)).toEqual([7, 6, 5]);
    expect(await recentVisits(db, user, 5)).toEqual([7, 6, 5, 4, 3]);
    expect(await recentVisits(db, user, 1)).toEqual([7]);
  });

  test('recent visits — give what there is when fewer items were visited, and nothing before any visit', async () => {
    expect(await recentVisits(db, await visited([8, 8, 9]))).toEqual([9, 8]);
    expect(await recentVisits(db, await visited([]))).toEqual([]);
  });

  test('recent visits — a run of one item longer than a page collapses into one entry', async () => {
    const user = await visited([1, 2, ...Array(10).fill(3)]);
    expect(await recentVisits(db, user, 3, 4)).toEqual([3, 2, 1]);
    const long = await visited([4, 5, ...Array(150).fill(6)]);
    expect(await recentVisits(db, long)).toEqual([6, 5, 4]);
  });

  test('recent visits — a repeat split by a page boundary is still one entry', async () => {
    // Newest first with pages of 2: [1, 1] [2, 2] [1, 1] [3].
    const user = await visited([3, 1, 1, 2, 2, 1, 1]);
    expect(await recentVisits(db, user, 3, 2)).toEqual([1, 2, 1]);
    const odd = await visited([3, 2, 2, 2, 1]); // pages of 2: [1, 2] [2, 2] [3]
    expect(await recentVisits(db, odd, 3, 2)).toEqual([1, 2, 3]);
  });

  test('recent visits — a history ending exactly at a page boundary is read to its end', async () => {
    const user = await visited([1, 1, 2, 2]);
    expect(await recentVisits(db, user, 3, 2)).toEqual([2, 1]);
    expect(await recentVisits(db, user, 3, 4)).toEqual([2, 1]);
  });

  test('recent visits — are ordered by visit id, not by the order events were stored in', async () => {
    const user = nextUser++;
    const base = (seq += 10);
    for (const [n, itemId] of [[3, 30], [1, 10], [2, 20]] as const) {
      await insertVisit(db, { visitId: visitId(base - 10 + n), userId: user, itemId, at: new Date().toISOString() });
    }
    expect(await recentVisits(db, user)).toEqual([30, 20, 10]);
  });

  test("recent visits — are one user's: other users' visits in between change nothing", async () => {
    const a = nextUser++;
    const b = nextUser++;
    for (const [user, item] of [[a, 1], [b, 1], [a, 2], [b, 9], [a, 2], [b, 1], [a, 3]] as const) await visited([item], user);
    expect(await recentVisits(db, a)).toEqual([3, 2, 1]);
    expect(await recentVisits(db, b)).toEqual([1, 9, 1]);
  });

  test('recent visits — stop reading once they have enough: a long history costs one page', async () => {
    const user = await visited(Array.from({ length: 500 }, (_, i) => i + 1));
    queries = 0;
    expect(await recentVisits(db, user)).toEqual([500, 499, 498]);
    expect(queries).toBe(1);
    queries = 0;
    expect(await recentVisits(db, await visited([7, 8, ...Array(200).fill(9)]), 3, 64)).toEqual([9, 8, 7]);
    expect(queries).toBe(4); // 202 visits: pages of 64, 64, 64, 10
  });

  test('insertVisit — stores a redelivered visit once', async () => {
    const user = nextUser++;
    const visit = { visitId: visitId(++seq), userId: user, itemId: 5, at: new Date().toISOString() };
    await insertVisit(db, visit);
    await insertVisit(db, visit);
    const rows = await db.selectFrom('visit').select('item_id').where('user_id', '=', user).execute();
    expect(rows.map((r) => Number(r.item_id))).toEqual([5]);
  });

  test('insertVisits — one statement for many; a visit given twice, or already stored, is stored once', async () => {
    const user = nextUser++;
    const visits = [1, 2, 3].map((itemId) => ({ visitId: visitId(++seq), userId: user, itemId, at: new Date().toISOString() }));
    await insertVisit(db, visits[0]!);
    await insertVisits(db, [...visits, visits[1]!]);
    await insertVisits(db, []);
    const rows = await db.selectFrom('visit').select('item_id').where('user_id', '=', user).orderBy('visit_id').execute();
    expect(rows.map((r) => Number(r.item_id))).toEqual([1, 2, 3]);
    expect(await recentVisits(db, user)).toEqual([3, 2, 1]);
  });
});
