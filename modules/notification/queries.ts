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

/**
 * Newest first, after the cursor; `read` filters (undefined: all). The page's ids come from a
 * range of notification_recipient (or notification_unread), the rows from the primary key: in
 * one query the planner may walk the primary key instead, filtering on the recipient.
 */
export function notificationsPageQuery(db: Db, recipientId: string, opts: { before?: number; limit: number; read?: boolean }) {
  let ids = db.selectFrom('notification').select('id').where('recipient_id', '=', recipientId);
  if (opts.read !== undefined) ids = ids.where('read', '=', opts.read);
  if (opts.before !== undefined) ids = ids.where('id', '<', opts.before);
  return db.selectFrom('notification').selectAll().where('id', 'in', ids.orderBy('id', 'desc').limit(opts.limit));
}

export async function listNotifications(db: Db, recipientId: string, opts: { before?: number; limit: number; read?: boolean }): Promise<NotificationRow[]> {
  const rows = await notificationsPageQuery(db, recipientId, opts).execute();
  return rows.sort((a, b) => Number(b.id) - Number(a.id));
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
