import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Account } from './contract/index.ts';
import type { AccountDatabase, AccountTable } from './schema.ts';

type Db = Kysely<AccountDatabase> | Transaction<AccountDatabase>;

/** An account as a query reads it. */
export type AccountRow = Selectable<AccountTable>;

export async function findAccount(db: Db, id: string): Promise<AccountRow | undefined> {
  return db.selectFrom('account').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Inserts a new account; false when the id is taken. */
export async function insertAccount(
  db: Db,
  row: { id: string; password_hash: string; name: string; nickname: string | null; bio: string | null; is_admin?: boolean },
): Promise<boolean> {
  const result = await db.insertInto('account').values(row).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Replaces the password and revokes every token issued before. */
export async function setPassword(db: Db, id: string, passwordHash: string, temporaryUntil: Date | null): Promise<boolean> {
  const result = await db
    .updateTable('account')
    .set({ password_hash: passwordHash, temporary_password_expires_at: temporaryUntil, token_version: sql`token_version + 1` })
    .where('id', '=', id)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function setProfile(db: Db, id: string, change: { nickname: string | null } | { bio: string | null }): Promise<AccountRow | undefined> {
  return db.updateTable('account').set(change).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function makeAdmin(db: Db, id: string): Promise<void> {
  await db.updateTable('account').set({ is_admin: true }).where('id', '=', id).where('is_admin', '=', false).execute();
}

export async function countAccounts(db: Db): Promise<number> {
  const row = await db.selectFrom('account').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Accounts with ids after `after` (none: from the first), in id order, at most `limit`. */
export function accountsAfter(db: Db, after: string | undefined, limit: number): Promise<AccountRow[]> {
  let q = db.selectFrom('account').selectAll();
  if (after !== undefined) q = q.where('id', '>', after);
  return q.orderBy('id').limit(limit).execute();
}

export function accountsByIds(db: Db, ids: string[]): Promise<AccountRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('account').selectAll().where(sql<boolean>`id = ANY(${ids}::text[])`).execute();
}

/** What other domains know of an account (the snapshot value). */
export function snapshotOf(row: AccountRow): Account {
  return { id: row.id, name: row.name, nickname: row.nickname, admin: row.is_admin, tokenVersion: row.token_version };
}
