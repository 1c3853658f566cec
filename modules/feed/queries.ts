import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { CommentTable, FeedDatabase, PostTable } from './schema.ts';

type Db = Kysely<FeedDatabase> | Transaction<FeedDatabase>;
export type PostRow = Selectable<PostTable>;
export type CommentRow = Selectable<CommentTable>;
export type ReactionType = 1 | 2 | 3 | 4 | 5;

// ---- posts -------------------------------------------------------------------------------

/** Adds the post; the product's post count takes a tally (no row every post would wait on). */
export function insertPost(db: Db, ownerId: string, content: string): Promise<PostRow> {
  return db
    .with('p', (w) => w.insertInto('post').values({ owner_id: ownerId, content }).returningAll())
    .with('t', (w) => w.insertInto('feed_counter_tally').columns(['name', 'delta']).expression((eb) => eb.selectFrom('p').select([sql.lit('posts').as('name'), sql.lit(1).as('delta')])))
    .selectFrom('p')
    .selectAll()
    .executeTakeFirstOrThrow() as Promise<PostRow>;
}

/** The post with its counts (its row's and its tallies' not folded yet). */
export function findPost(db: Db, id: number): Promise<PostRow | undefined> {
  return db.selectFrom('post_counted').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Who owns the post (undefined: there is none), read without a lock: an owner never changes. */
export async function postOwner(db: Db, id: number): Promise<string | undefined> {
  return (await db.selectFrom('post').select('owner_id').where('id', '=', id).executeTakeFirst())?.owner_id;
}

/** True when the post was there to change. */
export async function updatePostContent(db: Db, id: number, content: string): Promise<boolean> {
  const result = await db.updateTable('post').set({ content, modified: true }).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Deletes the post (its comments, reactions and tallies go with it: ON DELETE CASCADE); false when it was not there. */
export async function deletePost(db: Db, id: number): Promise<boolean> {
  const result = await db
    .with('d', (w) => w.deleteFrom('post').where('id', '=', id).returning('id'))
    .insertInto('feed_counter_tally')
    .columns(['name', 'delta'])
    .expression((eb) => eb.selectFrom('d').select([sql.lit('posts').as('name'), sql.lit(-1).as('delta')]))
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
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
    let q = db.selectFrom('post_counted').selectAll();
    if (opts.before !== undefined) q = q.where('id', '<', opts.before);
    return q.orderBy('id', 'desc').limit(opts.limit);
  }
  // A range of the (owner_id, id DESC) index, said as one: owner_id bounded on both sides, the
  // order (owner_id, id DESC) — with `owner_id = $1 … ORDER BY id DESC` the planner may walk the
  // primary key backwards instead (when the visibility map is behind: 200,000 rows thrown away
  // for the first page of an owner who wrote long ago). See commentsPageQuery.
  let ids = db.selectFrom('post').select('id').where('owner_id', '>=', opts.ownerId).where('owner_id', '<=', opts.ownerId);
  if (opts.before !== undefined) ids = ids.where('id', '<', opts.before);
  return db.selectFrom('post_counted').selectAll().where('id', 'in', ids.orderBy('owner_id').orderBy('id', 'desc').limit(opts.limit));
}

export async function listPosts(db: Db, opts: { ownerId?: string; before?: number; limit: number }): Promise<PostRow[]> {
  const rows = await postsPageQuery(db, opts).execute();
  return rows.sort((a, b) => Number(b.id) - Number(a.id));
}

export async function postTotals(db: Db, timeZone: string): Promise<{ totalPosts: number; postsToday: number }> {
  const total = await db
    .selectFrom('feed_counter')
    .select(sql<number>`value + coalesce((SELECT sum(delta) FROM feed_counter_tally WHERE name = 'posts'), 0)`.as('value'))
    .where('name', '=', 'posts')
    .executeTakeFirstOrThrow();
  const today = await db
    .selectFrom('post')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('created_at', '>=', sql<Date>`date_trunc('day', now() AT TIME ZONE ${timeZone}) AT TIME ZONE ${timeZone}`)
    .executeTakeFirstOrThrow();
  return { totalPosts: Number(total.value), postsToday: Number(today.n) };
}

// ---- comments ----------------------------------------------------------------------------

/** Adds the comment; the post's comment count takes a tally (the post's row is not locked). */
export function insertComment(db: Db, postId: number, userId: string, content: string): Promise<CommentRow> {
  return db
    .with('c', (w) => w.insertInto('comment').values({ post_id: postId, user_id: userId, content }).returningAll())
    .with('t', (w) => w.insertInto('post_tally').columns(['post_id', 'comments']).expression((eb) => eb.selectFrom('c').select(['c.post_id', sql.lit(1).as('comments')])))
    .selectFrom('c')
    .selectAll()
    .executeTakeFirstOrThrow() as Promise<CommentRow>;
}

/** The comment with its counts. */
export function findComment(db: Db, id: number): Promise<CommentRow | undefined> {
  return db.selectFrom('comment_counted').selectAll().where('id', '=', id).executeTakeFirst();
}

/** Who wrote the comment and on which post (undefined: there is none), without a lock. */
export function commentAuthor(db: Db, id: number): Promise<{ user_id: string; post_id: number } | undefined> {
  return db.selectFrom('comment').select(['user_id', 'post_id']).where('id', '=', id).executeTakeFirst();
}

/** True when the comment was there to change. */
export async function updateCommentContent(db: Db, id: number, content: string): Promise<boolean> {
  const result = await db.updateTable('comment').set({ content, modified: true }).where('id', '=', id).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Deletes the comment (its reactions go with it); its post's comment count takes a tally. False when it was not there. */
export async function deleteComment(db: Db, id: number): Promise<boolean> {
  const result = await db
    .with('d', (w) => w.deleteFrom('comment').where('id', '=', id).returning('post_id'))
    .insertInto('post_tally')
    .columns(['post_id', 'comments'])
    .expression((eb) => eb.selectFrom('d').select(['d.post_id', sql.lit(-1).as('comments')]))
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/** Oldest first, after the cursor: ids from an index-only range of comment_post_id (see postsPageQuery). */
export function commentsPageQuery(db: Db, postId: number, opts: { after?: number; limit: number }) {
  // The page is a range of the (post_id, id) index, and the query says so: post_id bounded on both
  // sides and the order (post_id, id), which only that index has. With `post_id = $1 … ORDER BY
  // id` the planner drops post_id from the order (it is constant) and may walk the primary key
  // from `after` instead, taking the post's comments to be spread over every id: for an old post
  // with many newer comments elsewhere, 20,000 rows read and thrown away (a CI run, when the
  // visibility map was behind and the index-only scan lost its edge).
  const ids = db
    .selectFrom('comment')
    .select('id')
    .where((eb) =>
      eb.and([
        opts.after === undefined ? eb('post_id', '>=', postId) : eb(eb.refTuple('post_id', 'id'), '>', eb.tuple(postId, opts.after)),
        eb('post_id', '<=', postId),
      ]),
    )
    .orderBy('post_id')
    .orderBy('id')
    .limit(opts.limit);
  return db.selectFrom('comment_counted').selectAll().where('id', 'in', ids);
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

type Counts = Partial<Record<'r1' | 'r2' | 'r3' | 'r4' | 'r5', number>>;
const column = (type: number) => `r${type}` as 'r1';
/** The tally of a reaction going from `before` to `after` (undefined: none). */
function reactionTally(before: number | undefined, after: number | undefined): Counts {
  const t: Counts = {};
  if (before !== undefined) t[column(before)] = (t[column(before)] ?? 0) - 1;
  if (after !== undefined) t[column(after)] = (t[column(after)] ?? 0) + 1;
  return t;
}

/**
 * How a reaction of one user to one target (a post, a comment) is set and removed, with the
 * tally that keeps the target's counts. Nothing locks the target: a reaction locks only its own
 * row — the user's reaction to that target — so the writers of one post wait on nobody but
 * themselves (and unitOfWork queues a user's writes to one target in the process, see `one`).
 */
function reactions(table: 'post_reaction' | 'comment_reaction', tally: 'post_tally' | 'comment_tally', target: 'post_id' | 'comment_id') {
  // Kysely types a query over a table chosen at run time only through `any`; these two
  // functions are the whole of it, and the tests cover both tables.
  const key = (db: Db, id: number, userId: string) => ({ db: db as Kysely<any>, where: { [target]: id, user_id: userId } });
  const where = (q: any, w: Record<string, unknown>) => Object.entries(w).reduce((q, [k, v]) => q.where(k, '=', v), q);
  const T = table as string;

  /** Sets the reaction; returns what it was before (undefined: none). A missing target is a foreign-key error. */
  async function set(db: Transaction<FeedDatabase>, id: number, userId: string, type: number): Promise<number | undefined> {
    const k = key(db, id, userId);
    for (;;) {
      // A new reaction and its tally in one statement.
      const inserted = await k.db
        .with('r', (w) => w.insertInto(T).values({ ...k.where, type }).onConflict((oc) => oc.columns([target, 'user_id']).doNothing()).returning([target]))
        .insertInto(tally)
        .columns([target, column(type)])
        .expression((eb) => eb.selectFrom('r').select([`r.${target}`, sql.lit(1).as(column(type))]))
        .returning('id')
        .executeTakeFirst();
      if (inserted) return undefined;
      // There is one: lock it (another process may be changing it), and change it.
      const before = (await where(k.db.selectFrom(T).select('type'), k.where).forUpdate().executeTakeFirst()) as { type: number } | undefined;
      if (!before) continue; // removed meanwhile: set it anew
      if (before.type === type) return type;
      await where(k.db.updateTable(T).set(table === 'post_reaction' ? { type, modified: true } : { type }), k.where).execute();
      await k.db.insertInto(tally).values({ [target]: id, ...reactionTally(before.type, type) }).execute();
      return before.type;
    }
  }

  /** Removes the reaction; false when there was none. */
  async function remove(db: Transaction<FeedDatabase>, id: number, userId: string): Promise<boolean> {
    const k = key(db, id, userId);
    const removed = (await where(k.db.deleteFrom(T), k.where).returning('type').executeTakeFirst()) as { type: number } | undefined;
    if (!removed) return false;
    await k.db.insertInto(tally).values({ [target]: id, ...reactionTally(removed.type, undefined) }).execute();
    return true;
  }

  return { set, remove };
}

const postReactions = reactions('post_reaction', 'post_tally', 'post_id');
const commentReactions = reactions('comment_reaction', 'comment_tally', 'comment_id');
export const setPostReaction = postReactions.set;
export const removePostReaction = postReactions.remove;
export const setCommentReaction = commentReactions.set;
export const removeCommentReaction = commentReactions.remove;

// ---- folding the tallies ----------------------------------------------------------------

/**
 * Adds the tallies of up to `limit` posts to their rows and deletes them, in one statement (so a
 * reader sees the counts before or after, never both or neither). A post whose row is locked
 * (being edited or deleted) is left for the next fold: the folder never waits on a writer.
 * Returns how many posts it folded.
 */
export async function foldPostTallies(db: Db, limit: number): Promise<number> {
  const result = await sql`
    WITH targets AS (
      SELECT id FROM post WHERE id IN (SELECT DISTINCT post_id FROM post_tally LIMIT ${limit})
      ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
    ), folded AS (
      DELETE FROM post_tally t USING targets WHERE t.post_id = targets.id
      RETURNING t.post_id, t.r1, t.r2, t.r3, t.r4, t.r5, t.comments
    ), sums AS (
      SELECT post_id, sum(r1) AS r1, sum(r2) AS r2, sum(r3) AS r3, sum(r4) AS r4, sum(r5) AS r5, sum(comments) AS comments
      FROM folded GROUP BY post_id
    )
    UPDATE post p SET r1 = p.r1 + s.r1, r2 = p.r2 + s.r2, r3 = p.r3 + s.r3, r4 = p.r4 + s.r4, r5 = p.r5 + s.r5,
                      comment_count = p.comment_count + s.comments
    FROM sums s WHERE p.id = s.post_id`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** The same for comments (see foldPostTallies). */
export async function foldCommentTallies(db: Db, limit: number): Promise<number> {
  const result = await sql`
    WITH targets AS (
      SELECT id FROM comment WHERE id IN (SELECT DISTINCT comment_id FROM comment_tally LIMIT ${limit})
      ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
    ), folded AS (
      DELETE FROM comment_tally t USING targets WHERE t.comment_id = targets.id
      RETURNING t.comment_id, t.r1, t.r2, t.r3, t.r4, t.r5
    ), sums AS (
      SELECT comment_id, sum(r1) AS r1, sum(r2) AS r2, sum(r3) AS r3, sum(r4) AS r4, sum(r5) AS r5 FROM folded GROUP BY comment_id
    )
    UPDATE comment c SET r1 = c.r1 + s.r1, r2 = c.r2 + s.r2, r3 = c.r3 + s.r3, r4 = c.r4 + s.r4, r5 = c.r5 + s.r5
    FROM sums s WHERE c.id = s.comment_id`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** The same for the product's counters (`posts`). */
export async function foldCounterTallies(db: Db): Promise<number> {
  const result = await sql`
    WITH targets AS (
      SELECT name FROM feed_counter WHERE name IN (SELECT DISTINCT name FROM feed_counter_tally)
      FOR NO KEY UPDATE SKIP LOCKED
    ), folded AS (
      DELETE FROM feed_counter_tally t USING targets WHERE t.name = targets.name RETURNING t.name, t.delta
    ), sums AS (SELECT name, sum(delta) AS delta FROM folded GROUP BY name)
    UPDATE feed_counter c SET value = c.value + s.delta FROM sums s WHERE c.name = s.name`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
