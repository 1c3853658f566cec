import { sql, type Kysely, type Transaction } from 'kysely';
import type { AlarmDatabase } from './schema.ts';

type Db = Kysely<AlarmDatabase> | Transaction<AlarmDatabase>;

/** The user's alarmed item ids, descending. */
export async function alarmedItemIds(db: Db, userId: number): Promise<number[]> {
  const rows = await db
    .selectFrom('alarm')
    .select('item_id')
    .where('user_id', '=', userId)
    .where('item_id', 'is not', null)
    .orderBy('item_id', 'desc')
    .execute();
  return rows.map((r) => r.item_id!);
}

/**
 * Alarm sets (item ids ascending) of users with at least one alarm: those after user `after`,
 * ascending, at most `limit` users — or, with `userIds`, of those users. One range of the
 * unique index (user_id, item_id).
 */
export async function alarmSets(db: Db, range: { after: number; limit: number } | { userIds: number[] }): Promise<{ userId: number; itemIds: number[] }[]> {
  let q = db
    .selectFrom('alarm')
    .select(['user_id', sql<number[]>`array_agg(item_id ORDER BY item_id)`.as('item_ids')])
    .where('item_id', 'is not', null)
    .groupBy('user_id')
    .orderBy('user_id');
  if ('userIds' in range) {
    if (range.userIds.length === 0) return [];
    q = q.where(sql<boolean>`user_id = ANY(${range.userIds}::int[])`);
  } else {
    q = q.where('user_id', '>', range.after).limit(range.limit);
  }
  return (await q.execute()).map((r) => ({ userId: r.user_id!, itemIds: r.item_ids.map(Number) }));
}

/** Sets the alarm; a second set is a no-op (unique index). Returns true when a row was added. */
export async function setAlarm(db: Db, userId: number, itemId: number): Promise<boolean> {
  const result = await db
    .insertInto('alarm')
    .values({ user_id: userId, item_id: itemId, created: sql`now()` })
    .onConflict((oc) => oc.columns(['user_id', 'item_id']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Clears the alarm; clearing an unset one is a no-op. Returns true when a row was removed. */
export async function clearAlarm(db: Db, userId: number, itemId: number): Promise<boolean> {
  const result = await db.deleteFrom('alarm').where('user_id', '=', userId).where('item_id', '=', itemId).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}
