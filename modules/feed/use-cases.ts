import type { Kysely, Transaction } from 'kysely';
import { userRefOf, type Account, type Caller, type UserRef } from '../account/contract/index.ts';
import { DomainError } from '../../platform/errors.ts';
import type { Outbox } from '../../platform/data/outbox.ts';
import { unitOfWork, type Changes } from '../../platform/data/unit-of-work.ts';
import { pageResult, type Page } from '../../platform/pagination.ts';
import { checkText } from '../../platform/text.ts';
import { FEED_LIMITS } from './limits.ts';
import { feedEvents, type Commented, type PostDeleted, type PostReacted } from './contract/index.ts';
import * as q from './queries.ts';
import type { CommentRow, PostRow } from './queries.ts';
import type { FeedDatabase } from './schema.ts';

type Reactions = Record<'1' | '2' | '3' | '4' | '5', number>;
const reactionsOf = (row: PostRow | CommentRow): Reactions => ({ '1': row.r1, '2': row.r2, '3': row.r3, '4': row.r4, '5': row.r5 });

/** An account as the feed reads it: from its copy of the accounts bucket. */
export type AccountOf = (id: string) => Account | undefined | Promise<Account | undefined>;

/** Rows folded per statement, and statements per fold at most (the next fold takes the rest). */
const FOLD_BATCH = 500;
const FOLD_ROUNDS = 20;
const FOREIGN_KEY_VIOLATION = '23503';

type Executor = Kysely<FeedDatabase> | Transaction<FeedDatabase>;

export function feedUseCases(deps: {
  db: Kysely<FeedDatabase>;
  background: Kysely<FeedDatabase>;
  outbox: Outbox;
  account: AccountOf;
  /** Told after every write that left tallies to fold (see foldTallies). */
  tallied?: () => void;
}) {
  const { db, background, outbox, account, tallied = () => {} } = deps;

  /** `{id, name, nickname}` of each user named, read at once (one copy lookup per distinct user). */
  async function refsOf(ids: string[]): Promise<Map<string, UserRef>> {
    const distinct = [...new Set(ids)];
    return new Map(await Promise.all(distinct.map(async (id) => [id, userRefOf(id, await account(id))] as const)));
  }

  const postView = (row: PostRow, myReaction: number | undefined, owner: UserRef) => ({
    id: Number(row.id),
    owner,
    content: row.content,
    modified: row.modified,
    createdAt: row.created_at.toISOString(),
    reactions: reactionsOf(row),
    myReaction: myReaction ?? null,
    commentCount: row.comment_count,
  });

  const commentView = (row: CommentRow, myReaction: number | undefined, user: UserRef) => ({
    id: Number(row.id),
    postId: Number(row.post_id),
    user,
    content: row.content,
    modified: row.modified,
    createdAt: row.created_at.toISOString(),
    reactions: reactionsOf(row),
    myReaction: myReaction ?? null,
  });

  const postContent = (content: string) => checkText('FEED.INVALID', 'content', content, FEED_LIMITS.post);
  const commentContent = (content: string) => checkText('FEED.INVALID', 'content', content, FEED_LIMITS.comment);
  const noPost = (id: number) => new DomainError('FEED.NOT_FOUND', `no post ${id}`);
  const noComment = (id: number) => new DomainError('FEED.NOT_FOUND', `no comment ${id}`);
  /** The caller is not the owner. The contract's hint names the request, which the HTTP adapter adds. */
  const forbidden = () => new DomainError('FEED.FORBIDDEN', 'only the owner may change it');

  /** 404 when there is no such post, 403 when `me` does not own it. Unlocked: an owner never changes. */
  async function ownPost(tx: Executor, me: Caller, id: number) {
    const owner = await q.postOwner(tx, id);
    if (owner === undefined) throw noPost(id);
    if (owner !== me.id) throw forbidden();
    return owner;
  }

  /** 404 when there is no such comment, 403 when `me` did not write it. */
  async function ownComment(tx: Executor, me: Caller, id: number) {
    const comment = await q.commentAuthor(tx, id);
    if (!comment) throw noComment(id);
    if (comment.user_id !== me.id) throw forbidden();
    return comment;
  }

  /** The owner of a post a reaction or a comment is about to name (404 when there is none). */
  async function existingPost(tx: Executor, id: number) {
    const owner = await q.postOwner(tx, id);
    if (owner === undefined) throw noPost(id);
    return owner;
  }

  /** A post or comment deleted between the check and the write: the foreign key refuses the write. */
  const gone = (error: unknown, notFound: () => DomainError) => {
    throw (error as { code?: unknown }).code === FOREIGN_KEY_VIOLATION ? notFound() : error;
  };

  async function postsPage(me: Caller, page: Page, ownerId?: string) {
    const rows = await q.listPosts(db, { ownerId, before: page.after, limit: page.limit + 1 });
    const { items, nextCursor } = pageResult(rows, page, 'post', (r) => Number(r.id));
    const [mine, owners] = await Promise.all([q.myPostReactions(db, me.id, items.map((r) => Number(r.id))), refsOf(items.map((r) => r.owner_id))]);
    return { items: items.map((r) => postView(r, mine.get(Number(r.id)), owners.get(r.owner_id)!)), nextCursor };
  }

  const onePost = async (row: PostRow, me: Caller) => {
    const [mine, owners] = await Promise.all([q.myPostReactions(db, me.id, [Number(row.id)]), refsOf([row.owner_id])]);
    return postView(row, mine.get(Number(row.id)), owners.get(row.owner_id)!);
  };
  const oneComment = async (row: CommentRow, me: Caller) => {
    const [mine, users] = await Promise.all([q.myCommentReactions(db, me.id, [Number(row.id)]), refsOf([row.user_id])]);
    return commentView(row, mine.get(Number(row.id)), users.get(row.user_id)!);
  };

  /** A write that other domains hear of: its event rides the outbox, published at once when possible. */
  const withEvents = unitOfWork(db, outbox);
  /** A write that may have left tallies: the folder is told once it is done. */
  const tallying = <T>(write: Promise<T>) => write.finally(tallied);
  /** One user's writes to one post's or comment's reaction, one at a time in this process. */
  const reactionOf = (target: 'post' | 'comment', id: number, me: Caller) => ({ one: `${target}:${id}:${me.id}` });

  const event = <T extends object>(changes: Changes, subject: string, payload: Omit<T, 'eventId' | 'at'>) => {
    const eventId = Bun.randomUUIDv7();
    return changes.event(subject, { ...payload, eventId, at: new Date().toISOString() }, eventId);
  };

  return {
    async createPost(me: Caller, content: string) {
      const row = await withEvents((tx) => q.insertPost(tx, me.id, postContent(content)));
      tallied();
      return postView(row, undefined, (await refsOf([me.id])).get(me.id)!);
    },

    async post(me: Caller, id: number) {
      const row = await q.findPost(db, id);
      if (!row) throw noPost(id);
      return onePost(row, me);
    },

    async editPost(me: Caller, id: number, content: string) {
      postContent(content);
      const row = await withEvents(async (tx) => {
        await ownPost(tx, me, id);
        if (!(await q.updatePostContent(tx, id, content))) throw noPost(id);
        return q.findPost(tx, id);
      });
      return onePost(row!, me);
    },

    async deletePost(me: Caller, id: number) {
      await withEvents(async (tx, changes) => {
        const owner = await ownPost(tx, me, id);
        if (!(await q.deletePost(tx, id))) throw noPost(id);
        await event<PostDeleted>(changes, feedEvents.postDeleted, { postId: id, postOwner: owner });
      });
      tallied();
    },

    posts: (me: Caller, page: Page) => postsPage(me, page),

    async timeline(me: Caller, userId: string, page: Page) {
      if (!(await account(userId))) throw new DomainError('FEED.NOT_FOUND', `no user ${userId}`);
      return postsPage(me, page, userId);
    },

    async addComment(me: Caller, postId: number, content: string) {
      commentContent(content);
      const row = await withEvents(async (tx, changes) => {
        const postOwner = await existingPost(tx, postId);
        const comment = await q.insertComment(tx, postId, me.id, content).catch((e) => gone(e, () => noPost(postId)));
        await event<Commented>(changes, feedEvents.commented, { postId, postOwner, actor: me.id, commentId: Number(comment.id) });
        return comment;
      });
      tallied();
      return commentView(row, undefined, (await refsOf([me.id])).get(me.id)!);
    },

    async comments(me: Caller, postId: number, page: Page) {
      if (!(await q.findPost(db, postId))) throw noPost(postId);
      const rows = await q.listComments(db, postId, { after: page.after, limit: page.limit + 1 });
      const { items, nextCursor } = pageResult(rows, page, 'comment', (r) => Number(r.id));
      const [mine, users] = await Promise.all([q.myCommentReactions(db, me.id, items.map((r) => Number(r.id))), refsOf(items.map((r) => r.user_id))]);
      return { items: items.map((r) => commentView(r, mine.get(Number(r.id)), users.get(r.user_id)!)), nextCursor };
    },

    async editComment(me: Caller, id: number, content: string) {
      commentContent(content);
      const row = await withEvents(async (tx) => {
        await ownComment(tx, me, id);
        if (!(await q.updateCommentContent(tx, id, content))) throw noComment(id);
        return q.findComment(tx, id);
      });
      return oneComment(row!, me);
    },

    async deleteComment(me: Caller, id: number) {
      await withEvents(async (tx) => {
        await ownComment(tx, me, id);
        if (!(await q.deleteComment(tx, id))) throw noComment(id);
      });
      tallied();
    },

    /** 'created' (201), 'changed' or 'unchanged' (200). A new or changed reaction is an event. */
    async reactToPost(me: Caller, postId: number, type: number): Promise<'created' | 'changed' | 'unchanged'> {
      return tallying(withEvents(async (tx, changes) => {
        const postOwner = await existingPost(tx, postId);
        const before = await q.setPostReaction(tx, postId, me.id, type).catch((e) => gone(e, () => noPost(postId)));
        if (before === type) return 'unchanged';
        await event<PostReacted>(changes, feedEvents.postReacted, { postId, postOwner, actor: me.id, type, first: before === undefined });
        return before === undefined ? 'created' : 'changed';
      }, reactionOf('post', postId, me)));
    },

    async unreactToPost(me: Caller, postId: number) {
      await tallying(withEvents(async (tx) => {
        if (await q.removePostReaction(tx, postId, me.id)) return;
        await existingPost(tx, postId);
        throw new DomainError('FEED.NOT_FOUND', `you have no reaction on post ${postId}`);
      }, reactionOf('post', postId, me)));
    },

    async reactToComment(me: Caller, commentId: number, type: number): Promise<'created' | 'changed' | 'unchanged'> {
      return tallying(withEvents(async (tx) => {
        if (!(await q.commentAuthor(tx, commentId))) throw noComment(commentId);
        const before = await q.setCommentReaction(tx, commentId, me.id, type).catch((e) => gone(e, () => noComment(commentId)));
        return before === type ? 'unchanged' : before === undefined ? 'created' : 'changed';
      }, reactionOf('comment', commentId, me)));
    },

    async unreactToComment(me: Caller, commentId: number) {
      await tallying(withEvents(async (tx) => {
        if (await q.removeCommentReaction(tx, commentId, me.id)) return;
        if (!(await q.commentAuthor(tx, commentId))) throw noComment(commentId);
        throw new DomainError('FEED.NOT_FOUND', `you have no reaction on comment ${commentId}`);
      }, reactionOf('comment', commentId, me)));
    },

    /**
     * Adds the tallies of reactions and comments to the counted rows (in the background, on
     * connections no request waits for): readers are exact either way, but the fewer tallies
     * wait, the less a read adds up. Returns how many rows it folded.
     */
    async foldTallies(): Promise<number> {
      let folded = 0;
      for (let round = 0; round < FOLD_ROUNDS; round++) {
        const n = (await q.foldPostTallies(background, FOLD_BATCH)) + (await q.foldCommentTallies(background, FOLD_BATCH)) + (await q.foldCounterTallies(background));
        folded += n;
        if (n === 0) break;
      }
      return folded;
    },

    totals: (timeZone: string) => q.postTotals(db, timeZone),
  };
}

export type FeedUseCases = ReturnType<typeof feedUseCases>;
