import { sql, type Kysely, type Transaction } from 'kysely';
import { tokenKey, type User } from './contract/index.ts';
import type { UserDatabase } from './schema.ts';

type Db = Kysely<UserDatabase> | Transaction<UserDatabase>;

const columns = ['id', 'name', 'access_token'] as const;

export async function countUsers(db: Db): Promise<number> {
  const row = await db.selectFrom('user').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Users with ids below `before` (none: from the top), id descending, at most `limit`. */
export function usersBefore(db: Db, before: number | undefined, limit: number): Promise<User[]> {
  let q = db.selectFrom('user').select(columns);
  if (before !== undefined) q = q.where('id', '<', before);
  return q.orderBy('id', 'desc').limit(limit).execute();
}

/** Users with ids above `after`, ascending, at most `limit`. */
export function usersAfter(db: Db, after: number, limit: number): Promise<User[]> {
  return db.selectFrom('user').select(columns).where('id', '>', after).orderBy('id').limit(limit).execute();
}

/**
 * The user a token belongs to (if two share one, the newest: the snapshot's rule). Every row of
 * the token, the newest picked here: with `ORDER BY id DESC LIMIT 1` a planner without
 * statistics (a table just loaded) walks the primary key backwards through every user — 0.8 s
 * at a million — instead of probing the token's index.
 */
export async function userByToken(db: Db, token: string): Promise<User | undefined> {
  const rows = await db.selectFrom('user').select(columns).where('access_token', '=', token).execute();
  return rows.reduce<User | undefined>((newest, row) => (newest === undefined || Number(row.id) > Number(newest.id) ? row : newest), undefined);
}

/**
 * The users behind bucket keys (see tokenKey), one per key, the newest where a token is shared.
 * A key that is a hash (a token too long for a key) is matched by hashing the long tokens.
 */
export async function usersByKeys(db: Db, keys: string[]): Promise<Map<string, User>> {
  const tokens: string[] = [];
  const hashed: string[] = [];
  for (const key of keys) {
    if (key.startsWith('==')) hashed.push(key);
    else tokens.push(key.startsWith('=') ? Buffer.from(key.slice(1), 'base64url').toString('utf8') : key);
  }
  const rows: User[] = [];
  if (tokens.length > 0) rows.push(...(await db.selectFrom('user').select(columns).where(sql<boolean>`access_token = ANY(${tokens}::varchar[])`).orderBy('id').execute()));
  if (hashed.length > 0) {
    rows.push(...(await db.selectFrom('user').select(columns).where(sql<boolean>`octet_length(access_token) > 300`).orderBy('id').execute()));
  }
  const found = new Map<string, User>();
  for (const row of rows) found.set(tokenKey(row.access_token), row); // ascending: the newest wins
  return found;
}

/** Stores a visit once: a redelivered event changes nothing. */
export async function insertVisit(db: Db, v: { visitId: string; userId: number; itemId: number; at: string }) {
  await insertVisits(db, [v]);
}

/** Stores many visits in one statement, each once (a visit already stored is left as it is). */
export async function insertVisits(db: Db, visits: { visitId: string; userId: number; itemId: number; at: string }[]) {
  const once = [...new Map(visits.map((v) => [v.visitId, v])).values()];
  if (once.length === 0) return;
  await db
    .insertInto('visit')
    .values(once.map((v) => ({ visit_id: v.visitId, user_id: v.userId, item_id: v.itemId, visited_at: v.at })))
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
