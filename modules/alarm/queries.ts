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

export async function usersWithAlarms(db: Db): Promise<number[]> {
  const rows = await db.selectFrom('alarm').select('user_id').distinct().where('user_id', 'is not', null).execute();
  return rows.map((r) => r.user_id!);
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
