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

export function feedUseCases(deps: { db: Kysely<FeedDatabase>; outbox: Outbox; account: AccountOf }) {
  const { db, outbox, account } = deps;

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

  /** The post, locked for the rest of the transaction: 404 when there is none, 403 when `me` does not own it. */
  async function ownPost(tx: Transaction<FeedDatabase>, me: Caller, id: number) {
    const post = await q.lockPost(tx, id);
    if (!post) throw noPost(id);
    if (post.owner_id !== me.id) throw forbidden();
    return post;
  }

  /** The comment, locked: 404 when there is none, 403 when `me` did not write it. */
  async function ownComment(tx: Transaction<FeedDatabase>, me: Caller, id: number) {
    const comment = await q.lockComment(tx, id);
    if (!comment) throw noComment(id);
    if (comment.user_id !== me.id) throw forbidden();
    return comment;
  }

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

  const event = <T extends object>(changes: Changes, subject: string, payload: Omit<T, 'eventId' | 'at'>) => {
    const eventId = Bun.randomUUIDv7();
    return changes.event(subject, { ...payload, eventId, at: new Date().toISOString() }, eventId);
  };

  return {
    async createPost(me: Caller, content: string) {
      const row = await withEvents((tx) => q.insertPost(tx, me.id, postContent(content)));
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
        return q.updatePostContent(tx, id, content);
      });
      return onePost(row!, me);
    },

    async deletePost(me: Caller, id: number) {
      await withEvents(async (tx, changes) => {
        const post = await ownPost(tx, me, id);
        await q.deletePost(tx, id);
        await event<PostDeleted>(changes, feedEvents.postDeleted, { postId: id, postOwner: post.owner_id });
      });
    },

    posts: (me: Caller, page: Page) => postsPage(me, page),

    async timeline(me: Caller, userId: string, page: Page) {
      if (!(await account(userId))) throw new DomainError('FEED.NOT_FOUND', `no user ${userId}`);
      return postsPage(me, page, userId);
    },

    async addComment(me: Caller, postId: number, content: string) {
      commentContent(content);
      const row = await withEvents(async (tx, changes) => {
        const post = await q.lockPost(tx, postId);
        if (!post) throw noPost(postId);
        const comment = await q.insertComment(tx, postId, me.id, content);
        await event<Commented>(changes, feedEvents.commented, { postId, postOwner: post.owner_id, actor: me.id, commentId: Number(comment.id) });
        return comment;
      });
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
        return q.updateCommentContent(tx, id, content);
      });
      return oneComment(row!, me);
    },

    async deleteComment(me: Caller, id: number) {
      await withEvents(async (tx) => {
        const comment = await ownComment(tx, me, id);
        await q.lockPost(tx, Number(comment.post_id));
        await q.deleteComment(tx, comment);
      });
    },

    /** 'created' (201), 'changed' or 'unchanged' (200). A new or changed reaction is an event. */
    async reactToPost(me: Caller, postId: number, type: number): Promise<'created' | 'changed' | 'unchanged'> {
      return withEvents(async (tx, changes) => {
        const post = await q.lockPost(tx, postId);
        if (!post) throw noPost(postId);
        const before = await q.setPostReaction(tx, postId, me.id, type);
        if (before === type) return 'unchanged';
        await event<PostReacted>(changes, feedEvents.postReacted, { postId, postOwner: post.owner_id, actor: me.id, type, first: before === undefined });
        return before === undefined ? 'created' : 'changed';
      });
    },

    async unreactToPost(me: Caller, postId: number) {
      await withEvents(async (tx) => {
        if (!(await q.lockPost(tx, postId))) throw noPost(postId);
        if (!(await q.removePostReaction(tx, postId, me.id))) throw new DomainError('FEED.NOT_FOUND', `you have no reaction on post ${postId}`);
      });
    },

    async reactToComment(me: Caller, commentId: number, type: number): Promise<'created' | 'changed' | 'unchanged'> {
      return withEvents(async (tx) => {
        if (!(await q.lockComment(tx, commentId))) throw noComment(commentId);
        const before = await q.setCommentReaction(tx, commentId, me.id, type);
        return before === type ? 'unchanged' : before === undefined ? 'created' : 'changed';
      });
    },

    async unreactToComment(me: Caller, commentId: number) {
      await withEvents(async (tx) => {
        if (!(await q.lockComment(tx, commentId))) throw noComment(commentId);
        if (!(await q.removeCommentReaction(tx, commentId, me.id))) throw new DomainError('FEED.NOT_FOUND', `you have no reaction on comment ${commentId}`);
      });
    },

    totals: (timeZone: string) => q.postTotals(db, timeZone),
  };
}

export type FeedUseCases = ReturnType<typeof feedUseCases>;
