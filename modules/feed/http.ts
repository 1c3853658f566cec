import { Elysia } from 'elysia';
import { Type, type TSchema } from '@sinclair/typebox';
import { checkCaller, UserRef } from '../account/contract/index.ts';
import { bearerAuth, bearerErrors, guarded } from '../../platform/http/bearer-auth.ts';
import type { Clock } from '../../platform/clock.ts';
import { DomainError } from '../../platform/errors.ts';
import { EmptyBody, emptyAfter, pathId, pathText, requestLine } from '../../platform/http/schemas.ts';
import { pageOf } from '../../platform/pagination.ts';
import { textField } from '../../platform/text.ts';
import { FEED_LIMITS } from './limits.ts';
import type { AccountOf, FeedUseCases } from './use-cases.ts';

const Reactions = Type.Object(
  { '1': Type.Integer(), '2': Type.Integer(), '3': Type.Integer(), '4': Type.Integer(), '5': Type.Integer() },
  { description: 'Count of each reaction type' },
);
const MyReaction = Type.Union([Type.Integer({ minimum: 1, maximum: 5 }), Type.Null()]);
const Post = Type.Object({
  id: Type.Integer(),
  owner: UserRef,
  content: Type.String(),
  modified: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  reactions: Reactions,
  myReaction: MyReaction,
  commentCount: Type.Integer(),
});
const Comment = Type.Object({
  id: Type.Integer(),
  postId: Type.Integer(),
  user: UserRef,
  content: Type.String(),
  modified: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
  reactions: Reactions,
  myReaction: MyReaction,
});
const pageOfItems = <T extends Parameters<typeof Type.Array>[0]>(item: T) =>
  Type.Object({ items: Type.Array(item), nextCursor: Type.Union([Type.String(), Type.Null()]) });
const PostContent = Type.Object({ content: textField(FEED_LIMITS.post, { description: 'Post text' }) });
const CommentContent = Type.Object({ content: textField(FEED_LIMITS.comment, { description: 'Comment text' }) });
const ReactionBody = Type.Object({ type: Type.Integer({ minimum: 1, maximum: 5, error: 'must be an integer from 1 to 5', description: 'Reaction type, 1 to 5' }) });
const PageQuery = Type.Object({
  limit: Type.Optional(Type.String({ description: '1 to 100, default 20' })),
  cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
});

/** Posts and comments are edited, deleted and reacted to alike: what those routes take and answer, for one of them. */
const changesTo = <C extends TSchema, V extends TSchema>(what: 'post' | 'comment', Content: C, View: V, deleteSummary: string) => ({
  edit: { ...guarded('access'), body: Content, response: { 200: View, ...bearerErrors(400, 403, 404) }, detail: { summary: `Edit your ${what} (it shows as modified)`, tags: [what] } },
  delete: { ...guarded('access'), response: { 200: EmptyBody, ...bearerErrors(403, 404) }, detail: { summary: deleteSummary, tags: [what] } },
  react: { ...guarded('access'), body: ReactionBody, response: { 200: EmptyBody, 201: EmptyBody, ...bearerErrors(400, 404) }, detail: { summary: `React to a ${what}: 201 new, 200 changed type`, tags: ['reaction'] } },
  unreact: { ...guarded('access'), response: { 200: EmptyBody, ...bearerErrors(404) }, detail: { summary: `Remove your reaction to a ${what} (404 when there was none)`, tags: ['reaction'] } },
});

/** The contract's 403 hint names the request it refuses: `You have not permission for 'PATCH /post/5'`. */
const asOwner = <T>(request: Request, work: Promise<T>): Promise<T> =>
  work.catch((error: unknown) => {
    if (error instanceof DomainError && error.code === 'FEED.FORBIDDEN') throw new DomainError(error.code, `You have not permission for '${requestLine(request)}'`);
    throw error;
  });

export function feedHttp(useCases: FeedUseCases, account: AccountOf, tokens: { secret: string; clock: Clock }) {
  const postId = (raw: string) => pathId(raw, 'FEED.NOT_FOUND', 'post');
  const commentId = (raw: string) => pathId(raw, 'FEED.NOT_FOUND', 'comment');
  // Made for each app: Elysia rewrites a route's options in place (the `auth` macro becomes the
  // bearer check with this app's secret), so no two apps may be handed the same objects.
  const postChanges = changesTo('post', PostContent, Post, 'Delete your post, with its comments, reactions and notifications');
  const commentChanges = changesTo('comment', CommentContent, Comment, 'Delete your comment');
  const answer = (set: { status?: number | string }, outcome: 'created' | 'changed' | 'unchanged') => {
    set.status = outcome === 'created' ? 201 : 200;
    return {};
  };

  return new Elysia({ name: 'feed.http' })
    .use(bearerAuth({ name: 'feed.auth', ...tokens, caller: (claims, level) => checkCaller(account, claims, level) }))
    .post(
      '/post',
      async ({ me, body, set }) => {
        set.status = 201;
        return useCases.createPost(me, body.content);
      },
      { ...guarded('access'), body: PostContent, response: { 201: Post, ...bearerErrors(400) }, detail: { summary: 'Write a post', tags: ['post'] } },
    )
    .get('/post', ({ me, query }) => useCases.posts(me, pageOf(query, 'post', 'FEED.INVALID')), {
      ...guarded('access'),
      query: PageQuery,
      response: { 200: pageOfItems(Post), ...bearerErrors(400) },
      detail: { summary: 'Every post, newest first', tags: ['post'] },
    })
    .get('/post/:id', ({ me, params }) => useCases.post(me, postId(params.id)), {
      ...guarded('access'),
      response: { 200: Post, ...bearerErrors(404) },
      detail: { summary: 'A post', tags: ['post'] },
    })
    .patch('/post/:id', ({ me, params, body, request }) => asOwner(request, useCases.editPost(me, postId(params.id), body.content)), postChanges.edit)
    .delete('/post/:id', ({ me, params, request }) => emptyAfter(asOwner(request, useCases.deletePost(me, postId(params.id)))), postChanges.delete)
    .get('/timeline', ({ me, query }) => useCases.timeline(me, me.id, pageOf(query, 'post', 'FEED.INVALID')), {
      ...guarded('access'),
      query: PageQuery,
      response: { 200: pageOfItems(Post), ...bearerErrors(400) },
      detail: { summary: 'Your posts, newest first', tags: ['post'] },
    })
    .get('/timeline/:userId', ({ me, params, query }) => useCases.timeline(me, pathText(params.userId, 'FEED.NOT_FOUND', 'userId'), pageOf(query, 'post', 'FEED.INVALID')), {
      ...guarded('access'),
      query: PageQuery,
      response: { 200: pageOfItems(Post), ...bearerErrors(400, 404) },
      detail: { summary: "A user's posts, newest first", tags: ['post'] },
    })
    .post(
      '/post/:id/comment',
      async ({ me, params, body, set }) => {
        const comment = await useCases.addComment(me, postId(params.id), body.content);
        set.status = 201;
        return comment;
      },
      { ...guarded('access'), body: CommentContent, response: { 201: Comment, ...bearerErrors(400, 404) }, detail: { summary: 'Comment on a post', tags: ['comment'] } },
    )
    .get('/post/:id/comment', ({ me, params, query }) => useCases.comments(me, postId(params.id), pageOf(query, 'comment', 'FEED.INVALID')), {
      ...guarded('access'),
      query: PageQuery,
      response: { 200: pageOfItems(Comment), ...bearerErrors(400, 404) },
      detail: { summary: "A post's comments, oldest first", tags: ['comment'] },
    })
    .patch('/comment/:id', ({ me, params, body, request }) => asOwner(request, useCases.editComment(me, commentId(params.id), body.content)), commentChanges.edit)
    .delete('/comment/:id', ({ me, params, request }) => emptyAfter(asOwner(request, useCases.deleteComment(me, commentId(params.id)))), commentChanges.delete)
    .post('/post/:id/reaction', async ({ me, params, body, set }) => answer(set, await useCases.reactToPost(me, postId(params.id), body.type)), postChanges.react)
    .delete('/post/:id/reaction', ({ me, params }) => emptyAfter(useCases.unreactToPost(me, postId(params.id))), postChanges.unreact)
    .post('/comment/:id/reaction', async ({ me, params, body, set }) => answer(set, await useCases.reactToComment(me, commentId(params.id), body.type)), commentChanges.react)
    .delete('/comment/:id/reaction', ({ me, params }) => emptyAfter(useCases.unreactToComment(me, commentId(params.id))), commentChanges.unreact);
}
