import { sql, type Kysely, type Transaction } from 'kysely';
import type { NotificationDatabase, NotificationRow } from './schema.ts';

type Db = Kysely<NotificationDatabase> | Transaction<NotificationDatabase>;

/**
 * Makes a notification unless the event was seen already, a type-2 one exists for the actor and
 * post, or the post is gone. Returns true when one was made.
 */
export async function insertNotification(
  db: Db,
  n: { eventId: string; recipientId: string; type: 1 | 2; actorId: string; postId: number; at: string },
): Promise<boolean> {
  const result = await sql<{ id: number }>`
    INSERT INTO notification (recipient_id, type, actor_id, post_id, created_at, event_id)
    SELECT ${n.recipientId}, ${n.type}, ${n.actorId}, ${n.postId}, ${n.at}::timestamptz, ${n.eventId}
    WHERE NOT EXISTS (SELECT 1 FROM deleted_post WHERE post_id = ${n.postId})
    ON CONFLICT DO NOTHING
    RETURNING id`.execute(db);
  return result.rows.length > 0;
}

/** Forgets every notification about the post, and remembers that it is gone. */
export async function forgetPost(db: Db, postId: number): Promise<void> {
  await db.insertInto('deleted_post').values({ post_id: postId }).onConflict((oc) => oc.column('post_id').doNothing()).execute();
  await db.deleteFrom('notification').where('post_id', '=', postId).execute();
}

/** Newest first, after the cursor; `read` filters (undefined: all). */
export function listNotifications(db: Db, recipientId: string, opts: { before?: number; limit: number; read?: boolean }): Promise<NotificationRow[]> {
  let q = db.selectFrom('notification').selectAll().where('recipient_id', '=', recipientId);
  if (opts.read !== undefined) q = q.where('read', '=', opts.read);
  if (opts.before !== undefined) q = q.where('id', '<', opts.before);
  return q.orderBy('id', 'desc').limit(opts.limit).execute();
}

export async function unreadCount(db: Db, recipientId: string): Promise<number> {
  const row = await db
    .selectFrom('notification')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('recipient_id', '=', recipientId)
    .where('read', '=', false)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Marks one of the recipient's notifications read; false when it is not theirs or not there. */
export async function markRead(db: Db, recipientId: string, id: number): Promise<boolean> {
  const row = await db
    .updateTable('notification')
    .set({ read: true })
    .where('id', '=', id)
    .where('recipient_id', '=', recipientId)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function markAllRead(db: Db, recipientId: string): Promise<number> {
  const result = await db.updateTable('notification').set({ read: true }).where('recipient_id', '=', recipientId).where('read', '=', false).executeTakeFirst();
  return Number(result.numUpdatedRows);
}
