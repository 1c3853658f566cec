import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { CommentTable, FeedDatabase, PostTable } from './schema.ts';

type Db = Kysely<FeedDatabase> | Transaction<FeedDatabase>;
export type PostRow = Selectable<PostTable>;
export type CommentRow = Selectable<CommentTable>;
export type ReactionType = 1 | 2 | 3 | 4 | 5;

const count = (type: number) => sql.ref<number>(`r${type}`);

// ---- posts -------------------------------------------------------------------------------

export async function insertPost(db: Db, ownerId: string, content: string): Promise<PostRow> {
  const row = await db.insertInto('post').values({ owner_id: ownerId, content }).returningAll().executeTakeFirstOrThrow();
  await db.updateTable('feed_counter').set({ value: sql`value + 1` }).where('name', '=', 'posts').execute();
  return row;
}

export function findPost(db: Db, id: number): Promise<PostRow | undefined> {
  return db.selectFrom('post').selectAll().where('id', '=', id).executeTakeFirst();
}

/** The post, locked for the rest of the transaction: reactions and comments on it queue here. */
export function lockPost(db: Transaction<FeedDatabase>, id: number): Promise<PostRow | undefined> {
  return db.selectFrom('post').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function updatePostContent(db: Db, id: number, content: string): Promise<PostRow | undefined> {
  return db.updateTable('post').set({ content, modified: true }).where('id', '=', id).returningAll().executeTakeFirst();
}

/** Deletes the post; its comments and reactions go with it (foreign keys, ON DELETE CASCADE). */
export async function deletePost(db: Db, id: number): Promise<void> {
  const result = await db.deleteFrom('post').where('id', '=', id).executeTakeFirst();
  if (Number(result.numDeletedRows) > 0) {
    await db.updateTable('feed_counter').set({ value: sql`value - 1` }).where('name', '=', 'posts').execute();
  }
}

/**
 * Every post, newest first, after the cursor: a backward range of the primary key. For one
 * owner, the page's ids come from an index-only range of post_owner_id and the rows from the
 * primary key. (Asked in one query, the planner may walk the primary key instead, filtering on
 * the owner — cheap for an owner whose posts are everywhere, ruinous for one who posted a lot
 * long ago and then stopped.)
 */
export function postsPageQuery(db: Db, opts: { ownerId?: string; before?: number; limit: number }) {
  if (opts.ownerId === undefined) {
    let q = db.selectFrom('post').selectAll();
    if (opts.before !== undefined) q = q.where('id', '<', opts.before);
    return q.orderBy('id', 'desc').limit(opts.limit);
  }
  let ids = db.selectFrom('post').select('id').where('owner_id', '=', opts.ownerId);
  if (opts.before !== undefined) ids = ids.where('id', '<', opts.before);
  return db.selectFrom('post').selectAll().where('id', 'in', ids.orderBy('id', 'desc').limit(opts.limit));
}

export async function listPosts(db: Db, opts: { ownerId?: string; before?: number; limit: number }): Promise<PostRow[]> {
  const rows = await postsPageQuery(db, opts).execute();
  return rows.sort((a, b) => Number(b.id) - Number(a.id));
}

export async function postTotals(db: Db, timeZone: string): Promise<{ totalPosts: number; postsToday: number }> {
  const total = await db.selectFrom('feed_counter').select('value').where('name', '=', 'posts').executeTakeFirstOrThrow();
  const today = await db
    .selectFrom('post')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('created_at', '>=', sql<Date>`date_trunc('day', now() AT TIME ZONE ${timeZone}) AT TIME ZONE ${timeZone}`)
    .executeTakeFirstOrThrow();
  return { totalPosts: Number(total.value), postsToday: Number(today.n) };
}

// ---- comments ----------------------------------------------------------------------------

export async function insertComment(db: Db, postId: number, userId: string, content: string): Promise<CommentRow> {
  const row = await db.insertInto('comment').values({ post_id: postId, user_id: userId, content }).returningAll().executeTakeFirstOrThrow();
  await db.updateTable('post').set({ comment_count: sql`comment_count + 1` }).where('id', '=', postId).execute();
  return row;
}

export function lockComment(db: Transaction<FeedDatabase>, id: number): Promise<CommentRow | undefined> {
  return db.selectFrom('comment').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export function updateCommentContent(db: Db, id: number, content: string): Promise<CommentRow | undefined> {
  return db.updateTable('comment').set({ content, modified: true }).where('id', '=', id).returningAll().executeTakeFirst();
}

export async function deleteComment(db: Db, comment: CommentRow): Promise<void> {
  const result = await db.deleteFrom('comment').where('id', '=', comment.id).executeTakeFirst();
  if (Number(result.numDeletedRows) > 0) {
    await db.updateTable('post').set({ comment_count: sql`comment_count - 1` }).where('id', '=', comment.post_id).execute();
  }
}

/** Oldest first, after the cursor: ids from an index-only range of comment_post_id (see postsPageQuery). */
export function commentsPageQuery(db: Db, postId: number, opts: { after?: number; limit: number }) {
  let ids = db.selectFrom('comment').select('id').where('post_id', '=', postId);
  if (opts.after !== undefined) ids = ids.where('id', '>', opts.after);
  return db.selectFrom('comment').selectAll().where('id', 'in', ids.orderBy('id', 'asc').limit(opts.limit));
}

export async function listComments(db: Db, postId: number, opts: { after?: number; limit: number }): Promise<CommentRow[]> {
  const rows = await commentsPageQuery(db, postId, opts).execute();
  return rows.sort((a, b) => Number(a.id) - Number(b.id));
}

// ---- reactions ---------------------------------------------------------------------------

export function myPostReactionsQuery(db: Db, userId: string, postIds: number[]) {
  return db.selectFrom('post_reaction').select(['post_id', 'type']).where('user_id', '=', userId).where('post_id', 'in', postIds);
}

/** The caller's reaction to each of `postIds` (one query for a whole page). */
export async function myPostReactions(db: Db, userId: string, postIds: number[]): Promise<Map<number, number>> {
  if (postIds.length === 0) return new Map();
  const rows = await myPostReactionsQuery(db, userId, postIds).execute();
  return new Map(rows.map((r) => [Number(r.post_id), r.type]));
}

export async function myCommentReactions(db: Db, userId: string, commentIds: number[]): Promise<Map<number, number>> {
  if (commentIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('comment_reaction')
    .select(['comment_id', 'type'])
    .where('user_id', '=', userId)
    .where('comment_id', 'in', commentIds)
    .execute();
  return new Map(rows.map((r) => [Number(r.comment_id), r.type]));
}

/**
 * Sets the user's reaction to a post whose row the transaction has locked; keeps the counts.
 * Returns what it was before (undefined: none).
 */
export async function setPostReaction(db: Transaction<FeedDatabase>, postId: number, userId: string, type: number): Promise<number | undefined> {
  const before = await db.selectFrom('post_reaction').select('type').where('post_id', '=', postId).where('user_id', '=', userId).executeTakeFirst();
  if (before?.type === type) return type;
  if (before) {
    await db.updateTable('post_reaction').set({ type, modified: true }).where('post_id', '=', postId).where('user_id', '=', userId).execute();
    await db.updateTable('post').set({ [`r${before.type}`]: sql`${count(before.type)} - 1`, [`r${type}`]: sql`${count(type)} + 1` }).where('id', '=', postId).execute();
  } else {
    await db.insertInto('post_reaction').values({ post_id: postId, user_id: userId, type }).execute();
    await db.updateTable('post').set({ [`r${type}`]: sql`${count(type)} + 1` }).where('id', '=', postId).execute();
  }
  return before?.type;
}

/** Removes the user's reaction to a locked post; false when there was none. */
export async function removePostReaction(db: Transaction<FeedDatabase>, postId: number, userId: string): Promise<boolean> {
  const removed = await db.deleteFrom('post_reaction').where('post_id', '=', postId).where('user_id', '=', userId).returning('type').executeTakeFirst();
  if (!removed) return false;
  await db.updateTable('post').set({ [`r${removed.type}`]: sql`${count(removed.type)} - 1` }).where('id', '=', postId).execute();
  return true;
}

export async function setCommentReaction(db: Transaction<FeedDatabase>, commentId: number, userId: string, type: number): Promise<number | undefined> {
  const before = await db.selectFrom('comment_reaction').select('type').where('comment_id', '=', commentId).where('user_id', '=', userId).executeTakeFirst();
  if (before?.type === type) return type;
  if (before) {
    await db.updateTable('comment_reaction').set({ type }).where('comment_id', '=', commentId).where('user_id', '=', userId).execute();
    await db.updateTable('comment').set({ [`r${before.type}`]: sql`${count(before.type)} - 1`, [`r${type}`]: sql`${count(type)} + 1` }).where('id', '=', commentId).execute();
  } else {
    await db.insertInto('comment_reaction').values({ comment_id: commentId, user_id: userId, type }).execute();
    await db.updateTable('comment').set({ [`r${type}`]: sql`${count(type)} + 1` }).where('id', '=', commentId).execute();
  }
  return before?.type;
}

export async function removeCommentReaction(db: Transaction<FeedDatabase>, commentId: number, userId: string): Promise<boolean> {
  const removed = await db
    .deleteFrom('comment_reaction')
    .where('comment_id', '=', commentId)
    .where('user_id', '=', userId)
    .returning('type')
    .executeTakeFirst();
  if (!removed) return false;
  await db.updateTable('comment').set({ [`r${removed.type}`]: sql`${count(removed.type)} - 1` }).where('id', '=', commentId).execute();
  return true;
}
