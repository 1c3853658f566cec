import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { commentsPageQuery, postsPageQuery } from '../modules/feed/queries.ts';
import type { FeedDatabase } from '../modules/feed/schema.ts';
import { feedEvents, FEED_EVENTS_STREAM, FEED_EVENTS_SUBJECTS } from '../modules/feed/contract/index.ts';
import type { DeliveredEvent } from '../platform/bus/types.ts';
import { PG_ADMIN_URL } from './support/shop.ts';
import { eventually, startMinifb, type Backend, type Minifb } from './support/minifb.ts';

/**
 * minifb posts, timelines, comments and reactions as a client sees them
 * (shared/specs/minifb.md: "Posts and timelines", "Comments", "Reactions", "Pagination"), on
 * embedded PGlite and on Postgres.
 */
const POST_KEYS = ['commentCount', 'content', 'createdAt', 'id', 'modified', 'myReaction', 'owner', 'reactions'];
const COMMENT_KEYS = ['content', 'createdAt', 'id', 'modified', 'myReaction', 'postId', 'reactions', 'user'];
const NO_REACTIONS = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
const emoji = (n: number) => '🙂'.repeat(n);

describe.each(['pglite', 'pg', 'split'] as Backend[])('minifb feed on %s', (backend) => {
  let fb: Minifb;
  let alice: string;
  let bob: string;
  let carol: string;
  const events: DeliveredEvent[] = [];
  let n = 0;

  beforeAll(async () => {
    fb = await startMinifb({ backend });
    alice = await fb.user('alice', { name: 'Alice', nickname: 'ally' });
    bob = await fb.user('bob.b', { name: 'Bob' });
    carol = await fb.user('carol', { name: 'Carol' });
    await fb.bus.ensureStream({ name: FEED_EVENTS_STREAM, subjects: FEED_EVENTS_SUBJECTS });
    await fb.bus.consume({ stream: FEED_EVENTS_STREAM, durable: 'feed-test', handler: async (e) => void events.push(e) });
  }, 90000);

  afterAll(async () => {
    await fb?.stop();
  }, 30000);

  const post = async (token: string, content = `post ${++n}`) => {
    const res = await fb.call('POST', '/post', { token, body: { content } });
    if (res.status !== 201) throw new Error(`POST /post answered ${res.status} ${res.text}`);
    return res.body;
  };
  const comment = async (token: string, postId: number, content = `comment ${++n}`) => {
    const res = await fb.call('POST', `/post/${postId}/comment`, { token, body: { content } });
    if (res.status !== 201) throw new Error(`POST comment answered ${res.status} ${res.text}`);
    return res.body;
  };
  const react = (token: string, target: string, type: unknown) => fb.call('POST', `${target}/reaction`, { token, body: { type } });
  const eventsOf = (subject: string, postId: number) => events.filter((e) => e.subject.endsWith(subject) && (e.payload as { postId: number }).postId === postId);

  describe('posts', () => {
    test('post — 201 with the post: owner from the account snapshot, no reactions, no comments, not modified', async () => {
      const before = Date.now();
      const res = await fb.call('POST', '/post', { token: alice, body: { content: '첫 글입니다' } });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(POST_KEYS);
      expect(res.body).toMatchObject({
        owner: { id: 'alice', name: 'Alice', nickname: 'ally' },
        content: '첫 글입니다',
        modified: false,
        reactions: NO_REACTIONS,
        myReaction: null,
        commentCount: 0,
      });
      expect(Number.isInteger(res.body.id)).toBe(true);
      expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 1000);
      expect((await fb.call('GET', `/post/${res.body.id}`, { token: bob })).body).toEqual(res.body);
    });

    test('post — content of 1 and 3000 characters passes, 0 and 3001 is 400 naming the limit', async () => {
      for (const content of ['x', 'y'.repeat(3000), emoji(3000)]) expect((await fb.call('POST', '/post', { token: alice, body: { content } })).status).toBe(201);
      for (const content of ['', 'y'.repeat(3001), emoji(3001)]) {
        expect(await fb.call('POST', '/post', { token: alice, body: { content } })).toMatchObject({ status: 400, body: { result: 'Bad Request', hint: 'content: must be 1 to 3000 characters' } });
      }
    });

    test('post — a wrong type, a missing content, malformed JSON, no token', async () => {
      expect(await fb.call('POST', '/post', { token: alice, body: { content: 5 } })).toMatchObject({ status: 400, body: { hint: 'content: must be a string' } });
      expect(await fb.call('POST', '/post', { token: alice, body: {} })).toMatchObject({ status: 400, body: { hint: 'content: is required' } });
      // What Postgres text cannot hold is a 400 too, never a 500.
      expect(await fb.call('POST', '/post', { token: alice, raw: '{"content":"nul \\u0000 inside"}' })).toMatchObject({ status: 400, body: { hint: 'content: must not contain the NUL character (U+0000)' } });
      expect(await fb.call('POST', '/post', { token: alice, raw: '{"content":"lone \\ud800"}' })).toMatchObject({ status: 400, body: { hint: 'content: must be well-formed Unicode (no lone surrogate)' } });
      expect(await fb.call('POST', '/post', { token: alice, raw: '{"content":' })).toMatchObject({ status: 400, body: { hint: 'the request body is not valid JSON' } });
      expect((await fb.call('POST', '/post', { body: { content: 'x' } })).status).toBe(401);
      expect((await fb.call('GET', '/post')).status).toBe(401);
    });

    test('post — 404 for an unknown or non-numeric id', async () => {
      for (const id of ['999999', '0', 'abc', '1.5', '-1']) {
        expect({ id, ...(await fb.call('GET', `/post/${id}`, { token: alice })) }).toMatchObject({ id, status: 404, body: { result: 'Not Found', hint: `no post ${id}` } });
      }
    });

    test('edit — the owner changes the content; the post shows modified', async () => {
      const p = await post(alice);
      const res = await fb.call('PATCH', `/post/${p.id}`, { token: alice, body: { content: 'edited text' } });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ ...p, content: 'edited text', modified: true });
      expect((await fb.call('GET', `/post/${p.id}`, { token: alice })).body.modified).toBe(true);
    });

    test("edit — someone else's post is 403 naming the method and the path as sent; an unknown one 404", async () => {
      const p = await post(alice);
      expect(await fb.call('PATCH', `/post/${p.id}`, { token: bob, body: { content: 'mine now' } })).toMatchObject({
        status: 403,
        body: { result: 'Forbidden', hint: `You have not permission for 'PATCH /post/${p.id}'` },
      });
      expect((await fb.call('PATCH', `/post/00${p.id}`, { token: bob, body: { content: 'x' } })).body.hint).toBe(`You have not permission for 'PATCH /post/00${p.id}'`);
      expect((await fb.call('GET', `/post/${p.id}`, { token: alice })).body.content).toBe(p.content);
      expect((await fb.call('PATCH', '/post/987654', { token: alice, body: { content: 'x' } })).status).toBe(404);
    });

    test('edit — content limits, types and a missing content', async () => {
      const p = await post(alice);
      expect((await fb.call('PATCH', `/post/${p.id}`, { token: alice, body: { content: 'z'.repeat(3000) } })).status).toBe(200);
      for (const content of ['', 'z'.repeat(3001)]) expect((await fb.call('PATCH', `/post/${p.id}`, { token: alice, body: { content } })).body.hint).toBe('content: must be 1 to 3000 characters');
      expect((await fb.call('PATCH', `/post/${p.id}`, { token: alice, body: { content: null } })).body.hint).toBe('content: must be a string');
      expect((await fb.call('PATCH', `/post/${p.id}`, { token: alice, body: {} })).body.hint).toBe('content: is required');
    });

    test("delete — someone else's post is 403 (the contract's hint), the owner's is 200 {}, then 404; its comments and reactions go with it", async () => {
      const p = await post(alice);
      const c = await comment(bob, p.id);
      expect((await react(bob, `/post/${p.id}`, 3)).status).toBe(201);
      expect((await react(carol, `/comment/${c.id}`, 1)).status).toBe(201);
      expect(await fb.call('DELETE', `/post/${p.id}`, { token: bob })).toMatchObject({ status: 403, body: { result: 'Forbidden', hint: `You have not permission for 'DELETE /post/${p.id}'` } });
      expect(await fb.call('DELETE', `/post/${p.id}`, { token: alice })).toMatchObject({ status: 200, body: {} });
      expect((await fb.call('GET', `/post/${p.id}`, { token: alice })).status).toBe(404);
      expect((await fb.call('DELETE', `/post/${p.id}`, { token: alice })).status).toBe(404);
      expect((await fb.call('GET', `/post/${p.id}/comment`, { token: alice })).status).toBe(404);
      expect((await fb.call('PATCH', `/comment/${c.id}`, { token: bob, body: { content: 'x' } })).status).toBe(404);
      expect((await fb.call('DELETE', `/comment/${c.id}/reaction`, { token: carol })).status).toBe(404);
    });

    test('list — every post, newest first, with myReaction for the caller', async () => {
      const a = await post(alice);
      const b = await post(bob);
      await react(carol, `/post/${a.id}`, 5);
      const page = (await fb.call('GET', '/post?limit=2', { token: carol })).body;
      expect(page.items.map((p: { id: number }) => p.id)).toEqual([b.id, a.id]);
      expect(page.items[1]).toMatchObject({ myReaction: 5, reactions: { ...NO_REACTIONS, '5': 1 } });
      expect(page.items[0].myReaction).toBeNull();
      expect(typeof page.nextCursor).toBe('string');
      for (const p of page.items) expect(Object.keys(p).sort()).toEqual(POST_KEYS);
    });

    test('timelines — mine, and another user\'s, newest first; 404 for an unknown user', async () => {
      const user = await fb.user(`tl${backend}`);
      const mine = [await post(user), await post(user), await post(user)];
      await post(alice);
      const own = (await fb.call('GET', '/timeline', { token: user })).body;
      expect(own).toEqual({ items: expect.any(Array), nextCursor: null });
      expect(own.items.map((p: { id: number }) => p.id)).toEqual(mine.map((p) => p.id).reverse());
      const theirs = (await fb.call('GET', `/timeline/tl${backend}`, { token: bob })).body;
      expect(theirs.items.map((p: { id: number }) => p.id)).toEqual(mine.map((p) => p.id).reverse());
      expect(await fb.call('GET', '/timeline/nobody-here', { token: bob })).toMatchObject({ status: 404, body: { hint: 'no user nobody-here' } });
      expect((await fb.call('GET', '/timeline/abc%ZZ', { token: bob })).status).toBe(404);
      expect(await fb.call('GET', '/timeline/abc%00', { token: bob })).toMatchObject({ status: 400, body: { hint: 'userId: must not contain the NUL character (U+0000)' } });
    });

    test('names — a changed nickname shows on posts and comments at once (they come from the account snapshot)', async () => {
      const user = await fb.user(`nick${backend}`, { name: 'Nick' });
      const p = await post(user);
      const c = await comment(user, p.id);
      expect((await fb.call('PUT', '/me/nickname', { token: user, body: { nickname: '닉네임' } })).status).toBe(200);
      expect((await fb.call('GET', `/post/${p.id}`, { token: alice })).body.owner).toEqual({ id: `nick${backend}`, name: 'Nick', nickname: '닉네임' });
      const comments = (await fb.call('GET', `/post/${p.id}/comment`, { token: alice })).body.items;
      expect(comments.find((x: { id: number }) => x.id === c.id).user.nickname).toBe('닉네임');
    });
  });

  describe('pagination', () => {
    test('pages — limit 1 to 100, default 20; anything else is 400 naming limit', async () => {
      for (let i = 0; i < 21; i++) await post(carol);
      expect((await fb.call('GET', '/post', { token: carol })).body.items).toHaveLength(20);
      expect((await fb.call('GET', '/post?limit=1', { token: carol })).body.items).toHaveLength(1);
      expect((await fb.call('GET', '/timeline?limit=100', { token: carol })).body.items.length).toBeGreaterThanOrEqual(21);
      for (const limit of ['0', '101', 'abc', '-5', '2.5']) {
        expect(await fb.call('GET', `/post?limit=${limit}`, { token: carol })).toMatchObject({ status: 400, body: { hint: 'limit: must be an integer from 1 to 100' } });
      }
    });

    test('pages — a malformed cursor, or one from another list, is 400 naming cursor', async () => {
      const p = await post(carol);
      await comment(carol, p.id);
      await comment(carol, p.id);
      const commentCursor = (await fb.call('GET', `/post/${p.id}/comment?limit=1`, { token: carol })).body.nextCursor;
      expect(typeof commentCursor).toBe('string');
      for (const cursor of ['garbage!', 'Zm9vOmJhcg', commentCursor]) {
        expect(await fb.call('GET', `/post?cursor=${cursor}`, { token: carol })).toMatchObject({ status: 400, body: { hint: 'cursor: is not a cursor this list gave out' } });
      }
    });

    test('pages — walking 250 posts 7 at a time while others are added gives each once, in order, none skipped', async () => {
      const walker = await fb.user(`walk${backend}`);
      const originals: number[] = [];
      for (let i = 0; i < 250; i++) originals.push((await post(walker, `original ${i}`)).id);
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        // Someone posts between every two pages.
        await post(bob, 'posted meanwhile');
        const res: { body: { items: { id: number; owner: { id: string } }[]; nextCursor: string | null } } = await fb.call('GET', `/timeline/walk${backend}?limit=7${cursor ? `&cursor=${cursor}` : ''}`, { token: walker });
        expect(res.body.items.length).toBeLessThanOrEqual(7);
        seen.push(...res.body.items.map((p) => p.id));
        cursor = res.body.nextCursor;
        pages++;
      } while (cursor);
      expect(pages).toBe(Math.ceil(250 / 7));
      expect(seen).toEqual([...originals].reverse());

      // The list of every post too: the originals appear once each, in order, among the others.
      const all: number[] = [];
      cursor = null;
      do {
        await post(bob, 'posted meanwhile');
        const res: { body: { items: { id: number }[]; nextCursor: string | null } } = await fb.call('GET', `/post?limit=7${cursor ? `&cursor=${cursor}` : ''}`, { token: walker });
        all.push(...res.body.items.map((p) => p.id));
        cursor = res.body.nextCursor;
      } while (cursor);
      expect(new Set(all).size).toBe(all.length);
      expect(all.filter((id) => originals.includes(id))).toEqual([...originals].reverse());
      expect(all).toEqual([...all].sort((a, b) => b - a));
    }, 120000);
  });

  describe('comments', () => {
    test('comment — 201 with the comment; the post counts it', async () => {
      const p = await post(alice);
      const res = await fb.call('POST', `/post/${p.id}/comment`, { token: bob, body: { content: '좋아요' } });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(COMMENT_KEYS);
      expect(res.body).toMatchObject({ postId: p.id, user: { id: 'bob.b', name: 'Bob', nickname: null }, content: '좋아요', modified: false, reactions: NO_REACTIONS, myReaction: null });
      expect((await fb.call('GET', `/post/${p.id}`, { token: alice })).body.commentCount).toBe(1);
    });

    test('comment — content of 1 and 1000 passes, 0 and 1001 is 400; 404 on an unknown post', async () => {
      const p = await post(alice);
      for (const content of ['c', 'c'.repeat(1000), emoji(1000)]) expect((await fb.call('POST', `/post/${p.id}/comment`, { token: bob, body: { content } })).status).toBe(201);
      for (const content of ['', 'c'.repeat(1001), emoji(1001)]) {
        expect(await fb.call('POST', `/post/${p.id}/comment`, { token: bob, body: { content } })).toMatchObject({ status: 400, body: { hint: 'content: must be 1 to 1000 characters' } });
      }
      expect((await fb.call('POST', `/post/${p.id}/comment`, { token: bob, body: { content: 7 } })).body.hint).toBe('content: must be a string');
      expect(await fb.call('POST', '/post/876543/comment', { token: bob, body: { content: 'x' } })).toMatchObject({ status: 404, body: { hint: 'no post 876543' } });
    });

    test('comments — oldest first, in pages; 404 for an unknown post', async () => {
      const p = await post(alice);
      const made = [];
      for (let i = 0; i < 5; i++) made.push((await comment(i % 2 ? bob : carol, p.id, `c${i}`)).id);
      const first = (await fb.call('GET', `/post/${p.id}/comment?limit=3`, { token: alice })).body;
      const second = (await fb.call('GET', `/post/${p.id}/comment?limit=3&cursor=${first.nextCursor}`, { token: alice })).body;
      expect([...first.items, ...second.items].map((c: { id: number }) => c.id)).toEqual(made);
      expect(second.nextCursor).toBeNull();
      expect((await fb.call('GET', '/post/765432/comment', { token: alice })).status).toBe(404);
    });

    test("edit comment — the author's shows modified; someone else's is 403; unknown is 404", async () => {
      const p = await post(alice);
      const c = await comment(bob, p.id);
      const edited = await fb.call('PATCH', `/comment/${c.id}`, { token: bob, body: { content: 'fixed typo' } });
      expect(edited.body).toEqual({ ...c, content: 'fixed typo', modified: true });
      expect(await fb.call('PATCH', `/comment/${c.id}`, { token: alice, body: { content: 'x' } })).toMatchObject({ status: 403, body: { hint: `You have not permission for 'PATCH /comment/${c.id}'` } });
      expect((await fb.call('PATCH', `/comment/${c.id}`, { token: bob, body: { content: 'x'.repeat(1001) } })).body.hint).toBe('content: must be 1 to 1000 characters');
      expect((await fb.call('PATCH', '/comment/654321', { token: bob, body: { content: 'x' } })).status).toBe(404);
    });

    test("delete comment — someone else's is 403, the author's 200 and the post counts one less; then 404", async () => {
      const p = await post(alice);
      const c = await comment(bob, p.id);
      await comment(carol, p.id);
      expect(await fb.call('DELETE', `/comment/${c.id}`, { token: alice })).toMatchObject({ status: 403, body: { hint: `You have not permission for 'DELETE /comment/${c.id}'` } });
      expect(await fb.call('DELETE', `/comment/${c.id}`, { token: bob })).toMatchObject({ status: 200, body: {} });
      expect((await fb.call('GET', `/post/${p.id}`, { token: alice })).body.commentCount).toBe(1);
      expect((await fb.call('DELETE', `/comment/${c.id}`, { token: bob })).status).toBe(404);
    });
  });

  describe('reactions', () => {
    test('post reaction — 201 new, 200 changed; counts per type and myReaction follow', async () => {
      const p = await post(alice);
      expect(await react(bob, `/post/${p.id}`, 2)).toMatchObject({ status: 201, body: {} });
      expect(await react(carol, `/post/${p.id}`, 2)).toMatchObject({ status: 201, body: {} });
      expect((await fb.call('GET', `/post/${p.id}`, { token: bob })).body).toMatchObject({ reactions: { ...NO_REACTIONS, '2': 2 }, myReaction: 2 });
      expect(await react(bob, `/post/${p.id}`, 4)).toMatchObject({ status: 200, body: {} });
      expect((await fb.call('GET', `/post/${p.id}`, { token: bob })).body).toMatchObject({ reactions: { ...NO_REACTIONS, '2': 1, '4': 1 }, myReaction: 4 });
      expect((await react(bob, `/post/${p.id}`, 4)).status).toBe(200);
      expect((await fb.call('GET', `/post/${p.id}`, { token: alice })).body).toMatchObject({ reactions: { ...NO_REACTIONS, '2': 1, '4': 1 }, myReaction: null });
    });

    test('post reaction — remove: 200, then 404 when there is none; 404 on an unknown post', async () => {
      const p = await post(alice);
      await react(bob, `/post/${p.id}`, 1);
      expect(await fb.call('DELETE', `/post/${p.id}/reaction`, { token: bob })).toMatchObject({ status: 200, body: {} });
      expect((await fb.call('GET', `/post/${p.id}`, { token: bob })).body).toMatchObject({ reactions: NO_REACTIONS, myReaction: null });
      expect(await fb.call('DELETE', `/post/${p.id}/reaction`, { token: bob })).toMatchObject({ status: 404, body: { hint: `you have no reaction on post ${p.id}` } });
      expect((await react(bob, '/post/543210', 1)).status).toBe(404);
      expect((await fb.call('DELETE', '/post/543210/reaction', { token: bob })).status).toBe(404);
    });

    test('reaction type — 1 to 5 only, as a JSON integer', async () => {
      const p = await post(alice);
      for (const type of [0, 6, -1]) expect(await react(bob, `/post/${p.id}`, type)).toMatchObject({ status: 400, body: { hint: 'type: must be an integer from 1 to 5' } });
      for (const type of ['3', 1.5, null, true]) expect((await react(bob, `/post/${p.id}`, type)).body.hint).toBe('type: must be an integer');
      expect((await fb.call('POST', `/post/${p.id}/reaction`, { token: bob, body: {} })).body.hint).toBe('type: is required');
      expect((await fb.call('POST', `/post/${p.id}/reaction`, { token: bob, raw: '{' })).status).toBe(400);
      expect((await fb.call('GET', `/post/${p.id}`, { token: bob })).body.reactions).toEqual(NO_REACTIONS);
    });

    test('50 reactions at once by one user on one post leave exactly one', async () => {
      const p = await post(alice);
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => react(bob, `/post/${p.id}`, (i % 5) + 1)));
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      expect(answers.every((a) => a.status === 201 || a.status === 200)).toBe(true);
      const after = (await fb.call('GET', `/post/${p.id}`, { token: bob })).body;
      expect(Object.values(after.reactions as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(1);
      expect(after.reactions[String(after.myReaction)]).toBe(1);
    });

    test('comment reaction — 201 new, 200 changed, counts and myReaction; remove 200 then 404', async () => {
      const p = await post(alice);
      const c = await comment(bob, p.id);
      expect((await react(alice, `/comment/${c.id}`, 5)).status).toBe(201);
      expect((await react(alice, `/comment/${c.id}`, 3)).status).toBe(200);
      await react(carol, `/comment/${c.id}`, 3);
      const listed = (await fb.call('GET', `/post/${p.id}/comment`, { token: alice })).body.items[0];
      expect(listed).toMatchObject({ reactions: { ...NO_REACTIONS, '3': 2 }, myReaction: 3 });
      expect((await fb.call('DELETE', `/comment/${c.id}/reaction`, { token: alice })).status).toBe(200);
      expect((await fb.call('DELETE', `/comment/${c.id}/reaction`, { token: alice })).status).toBe(404);
      expect((await react(alice, '/comment/432100', 1)).status).toBe(404);
      expect((await react(alice, `/comment/${c.id}`, 9)).status).toBe(400);
    });

    test('50 reactions at once by one user on one comment leave exactly one', async () => {
      const p = await post(alice);
      const c = await comment(bob, p.id);
      const answers = await Promise.all(Array.from({ length: 50 }, () => react(carol, `/comment/${c.id}`, 2)));
      expect(answers.filter((a) => a.status === 201)).toHaveLength(1);
      const listed = (await fb.call('GET', `/post/${p.id}/comment`, { token: carol })).body.items[0];
      expect(listed.reactions).toEqual({ ...NO_REACTIONS, '2': 1 });
    });
  });

  describe('events for other domains', () => {
    test('a comment, a first and a changed reaction, a deleted post: each an event naming the post owner', async () => {
      const p = await post(alice);
      const c = await comment(bob, p.id);
      await react(carol, `/post/${p.id}`, 1);
      await react(carol, `/post/${p.id}`, 2);
      await react(carol, `/post/${p.id}`, 2); // unchanged: no event
      await fb.call('DELETE', `/post/${p.id}`, { token: alice });
      await eventually(() => eventsOf(feedEvents.postDeleted, p.id).length === 1, 5000, 'post-deleted event');
      expect(eventsOf(feedEvents.commented, p.id).map((e) => e.payload)).toEqual([
        expect.objectContaining({ postId: p.id, postOwner: 'alice', actor: 'bob.b', commentId: c.id }),
      ]);
      expect(eventsOf(feedEvents.postReacted, p.id).map((e) => e.payload)).toEqual([
        expect.objectContaining({ postOwner: 'alice', actor: 'carol', type: 1, first: true }),
        expect.objectContaining({ postOwner: 'alice', actor: 'carol', type: 2, first: false }),
      ]);
      expect(eventsOf(feedEvents.postDeleted, p.id)[0]!.payload).toMatchObject({ postId: p.id, postOwner: 'alice' });
      for (const e of events) expect(e.msgId).toBe((e.payload as { eventId: string }).eventId);
    });
  });

  if (backend !== 'pglite') {
    describe('the database', () => {
      let db: pg.Client;
      beforeAll(async () => {
        const url = new URL(PG_ADMIN_URL);
        url.pathname = `/${fb.databases.feed}`;
        db = new pg.Client({ connectionString: url.toString() });
        await db.connect();
      });
      afterAll(async () => {
        await db?.end();
      });

      test('a changed post reaction is marked modified; a new one is not', async () => {
        const p = await post(alice);
        await react(bob, `/post/${p.id}`, 1);
        await react(carol, `/post/${p.id}`, 1);
        await react(carol, `/post/${p.id}`, 5);
        const { rows } = await db.query('SELECT user_id, type, modified FROM post_reaction WHERE post_id = $1 ORDER BY user_id', [p.id]);
        expect(rows).toEqual([
          { user_id: 'bob.b', type: 1, modified: false },
          { user_id: 'carol', type: 5, modified: true },
        ]);
      });

      test('the database keeps one reaction per user and post, whatever the code does', async () => {
        const p = await post(alice);
        await react(bob, `/post/${p.id}`, 1);
        await expect(db.query('INSERT INTO post_reaction (post_id, user_id, type) VALUES ($1, $2, 2)', [p.id, 'bob.b'])).rejects.toThrow(/duplicate key/);
      });

      test('every page reads an index range of the right index — even for an owner who wrote much long ago', async () => {
        // 100,000 older posts of one writer who then stopped, 200,000 newer ones of many others,
        // and 30,000 comments on one post long ago: the shapes that lure the planner into walking
        // the primary key and filtering.
        await db.query("INSERT INTO post (owner_id, content) SELECT 'heavy-writer', 'old' FROM generate_series(1, 100000)");
        const { rows: [busy] } = await db.query("INSERT INTO post (owner_id, content) VALUES ('heavy-writer', 'busy post') RETURNING id");
        await db.query("INSERT INTO comment (post_id, user_id, content) SELECT $1, 'commenter', 'c' FROM generate_series(1, 30000)", [busy.id]);
        await db.query("INSERT INTO post (owner_id, content) SELECT 'writer' || (g % 500), 'new' FROM generate_series(1, 200000) g");
        await db.query("INSERT INTO comment (post_id, user_id, content) SELECT id, 'commenter', 'c' FROM post WHERE content = 'new' AND id % 10 = 0");
        await db.query('VACUUM ANALYZE');
        const { rows: [mid] } = await db.query("SELECT id FROM post WHERE owner_id = 'heavy-writer' ORDER BY id LIMIT 1 OFFSET 50000");
        const { rows: [lastComment] } = await db.query('SELECT max(id) AS id FROM comment WHERE post_id = $1', [busy.id]);
        const kysely = new Kysely<FeedDatabase>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${fb.databases.feed}` }).toString(), max: 1 }) }) });
        const pages: [string, { sql: string; parameters: readonly unknown[] }, RegExp][] = [
          ['every post, first page', postsPageQuery(kysely, { limit: 21 }).compile(), /Index Scan Backward using post_pkey/],
          ['every post, deep page', postsPageQuery(kysely, { before: Number(mid.id), limit: 21 }).compile(), /Index Scan Backward using post_pkey/],
          ['timeline, first page', postsPageQuery(kysely, { ownerId: 'heavy-writer', limit: 21 }).compile(), /Index Only Scan using post_owner_id/],
          ['timeline, deep page', postsPageQuery(kysely, { ownerId: 'heavy-writer', before: Number(mid.id), limit: 21 }).compile(), /Index Only Scan using post_owner_id/],
          ['comments, first page', commentsPageQuery(kysely, Number(busy.id), { limit: 21 }).compile(), /Index Only Scan using comment_post_id/],
          ['comments, last page', commentsPageQuery(kysely, Number(busy.id), { after: Number(lastComment.id) - 10, limit: 21 }).compile(), /Index Only Scan using comment_post_id/],
        ];
        try {
          for (const [page, query, index] of pages) {
            const plan = (await db.query(`EXPLAIN (ANALYZE, TIMING OFF) ${query.sql}`, [...query.parameters])).rows.map((r) => r['QUERY PLAN']).join('\n');
            // No row is read to be thrown away: the index range is the page.
            const removed = Math.max(0, ...[...plan.matchAll(/Rows Removed by Filter: (\d+)/g)].map((m) => Number(m[1])));
            expect({ page, index: index.test(plan), seqScan: /Seq Scan/.test(plan), sort: /\bSort\b/.test(plan), removed }).toEqual({ page, index: true, seqScan: false, sort: false, removed: 0 });
          }
          const today = (await db.query("EXPLAIN SELECT count(*) FROM post WHERE created_at >= now() - interval '1 hour'")).rows.map((r) => r['QUERY PLAN']).join('\n');
          expect(today).toMatch(/post_created_at/);
        } finally {
          await kysely.destroy();
        }
      }, 60000);
    });
  }

  test('every answer in these tests matches the schema the OpenAPI document declares for its route and status', async () => {
    expect(fb.seen.length).toBeGreaterThan(50);
    expect(await fb.openapiProblems()).toEqual([]);
  });

  test('no answer in these tests was a 5xx, and every error had the {result, hint} envelope', () => {
    expect(fb.seen.length).toBeGreaterThan(300);
    for (const r of fb.seen) {
      expect({ at: `${r.method} ${r.path}`, ok: r.status < 500 }).toEqual({ at: `${r.method} ${r.path}`, ok: true });
      if (r.status >= 400) expect(Object.keys(r.body as object).sort()).toEqual(['hint', 'result']);
    }
  });
});
