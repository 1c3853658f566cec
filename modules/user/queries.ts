import type { Kysely, Transaction } from 'kysely';
import type { User } from './contract/index.ts';
import type { UserDatabase } from './schema.ts';

type Db = Kysely<UserDatabase> | Transaction<UserDatabase>;

export function allUsers(db: Db): Promise<User[]> {
  return db.selectFrom('user').select(['id', 'name', 'access_token']).orderBy('id', 'desc').execute();
}

export async function findUser(db: Db, id: number): Promise<User | null> {
  return (await db.selectFrom('user').select(['id', 'name', 'access_token']).where('id', '=', id).executeTakeFirst()) ?? null;
}

/** Stores a visit once: a redelivered event changes nothing. */
export async function insertVisit(db: Db, v: { visitId: string; userId: number; itemId: number; at: string }) {
  await db
    .insertInto('visit')
    .values({ visit_id: v.visitId, user_id: v.userId, item_id: v.itemId, visited_at: v.at })
    .onConflict((oc) => oc.column('visit_id').doNothing())
    .execute();
}

/**
 * The recent-visit rule: newest first, consecutive visits of one item collapse into one, at most
 * `limit` entries. Reads the history newest first in pages and stops as soon as it has enough,
 * so a long run of one item costs pages, not the whole history.
 */
export async function recentVisits(db: Db, userId: number, limit = 3, page = 64): Promise<number[]> {
  const out: number[] = [];
  let last: string | undefined;
  for (;;) {
    let q = db.selectFrom('visit').select(['visit_id', 'item_id']).where('user_id', '=', userId);
    if (last) q = q.where('visit_id', '<', last);
    const rows = await q.orderBy('visit_id', 'desc').limit(page).execute();
    for (const r of rows) {
      if (out[out.length - 1] !== r.item_id) out.push(r.item_id);
      if (out.length === limit) return out;
    }
    if (rows.length < page) return out;
    last = rows[rows.length - 1]!.visit_id;
  }
}
