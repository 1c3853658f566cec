/**
 * minifb posts, timelines, pagination, comments and reactions (shared/specs/minifb.md: "Posts and
 * timelines", "Comments", "Reactions", "Pagination").
 */
import { anyInteger, checksOf, dateTime, expectAnswer, expectEqual, expectExactly, expectThat } from '../kit.ts';
import { COMMENT_KEYS, emoji, keysOf, NO_REACTIONS, POST_KEYS, type MinifbContext } from './context.ts';

const posts = checksOf<MinifbContext>('posts');
const timelines = checksOf<MinifbContext>('timelines');
const pagination = checksOf<MinifbContext>('pagination');
const comments = checksOf<MinifbContext>('comments');
const reactions = checksOf<MinifbContext>('reactions');
const LIMITS = ['limits'];
const INPUT = ['input'];

interface Page {
  items: { id: number }[];
  nextCursor: string | null;
}
const ids = (items: { id: number }[]) => items.map((i) => i.id);
const newestFirst = (list: number[]) => [...list].sort((a, b) => b - a);

/** Every id of a list, walked `limit` at a time, calling `between` before each page. */
async function walk(ctx: MinifbContext, path: string, token: string, limit: number, between: () => Promise<unknown>) {
  const seen: number[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    await between();
    const res = expectAnswer(await ctx.call('GET', `${path}?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token }), 200);
    const page = res.body as Page;
    expectThat(page.items.length <= limit, `a page of limit ${limit} holds ${page.items.length}`, res);
    seen.push(...ids(page.items));
    cursor = page.nextCursor;
    pages++;
  } while (cursor);
  return { seen, pages };
}

export const feedChecks = [
  posts('post — 201 with the post: its owner, no reactions, no comments, not modified', async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const before = Date.now();
    const res = expectAnswer(await ctx.call('POST', '/post', { token: alice.token, body: { content: '첫 글입니다' } }), 201);
    expectEqual(
      res.body,
      { id: anyInteger, owner: { id: alice.id, name: 'Alice', nickname: 'ally' }, content: '첫 글입니다', modified: false, createdAt: dateTime, reactions: NO_REACTIONS, myReaction: null, commentCount: 0 },
      'the post',
      res,
    );
    const at = Date.parse(res.body.createdAt);
    expectThat(at >= before - 1000 && at <= Date.now() + 1000, 'createdAt is not the time of the request', res);
    expectExactly(await ctx.call('GET', `/post/${res.body.id}`, { token: bob.token }), 200, res.body);
  }),

  posts('post — content of 1 and 3000 characters passes, 0 and 3001 is 400 naming the limit', async (ctx) => {
    const { token } = await ctx.cast('writer');
    for (const content of ['x', 'y'.repeat(3000), emoji(3000)]) expectAnswer(await ctx.call('POST', '/post', { token, body: { content } }), 201);
    for (const content of ['', 'y'.repeat(3001), emoji(3001)]) {
      expectExactly(await ctx.call('POST', '/post', { token, body: { content } }), 400, { result: 'Bad Request', hint: 'content: must be 1 to 3000 characters' });
    }
  }, LIMITS),

  posts('post — a wrong type, a missing content, a NUL, a lone surrogate, malformed JSON, no token', async (ctx) => {
    const { token } = await ctx.cast('writer');
    expectAnswer(await ctx.call('POST', '/post', { token, body: { content: 5 } }), 400, { hint: 'content: must be a string' });
    expectAnswer(await ctx.call('POST', '/post', { token, body: {} }), 400, { hint: 'content: is required' });
    expectAnswer(await ctx.call('POST', '/post', { token, raw: '{"content":"nul \\u0000 inside"}' }), 400, { hint: 'content: must not contain the NUL character (U+0000)' });
    expectAnswer(await ctx.call('POST', '/post', { token, raw: '{"content":"lone \\ud800"}' }), 400, { hint: 'content: must be well-formed Unicode (no lone surrogate)' });
    expectAnswer(await ctx.call('POST', '/post', { token, raw: '{"content":' }), 400, { hint: 'the request body is not valid JSON' });
    expectAnswer(await ctx.call('POST', '/post', { body: { content: 'x' } }), 401);
    expectAnswer(await ctx.call('GET', '/post'), 401);
  }, INPUT),

  posts('post — 404 for an unknown or non-numeric id', async (ctx) => {
    const person = await ctx.cast('writer');
    const gone = await ctx.deletedPostId(person);
    for (const id of [String(gone), '0', 'abc', '1.5', '-1']) {
      expectExactly(await ctx.call('GET', `/post/${id}`, { token: person.token }), 404, { result: 'Not Found', hint: `no post ${id}` });
    }
  }),

  posts('edit — the owner changes the content; the post shows modified; an unknown post is 404', async (ctx) => {
    const owner = await ctx.cast('writer');
    const p = await ctx.post(owner);
    expectExactly(await ctx.call('PATCH', `/post/${p.id}`, { token: owner.token, body: { content: 'edited text' } }), 200, { ...p, content: 'edited text', modified: true });
    expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: owner.token }), 200, { modified: true });
    expectAnswer(await ctx.call('PATCH', `/post/${await ctx.deletedPostId(owner)}`, { token: owner.token, body: { content: 'x' } }), 404);
  }),

  posts('edit — content limits, types and a missing content', async (ctx) => {
    const owner = await ctx.cast('writer');
    const p = await ctx.post(owner);
    const edit = (body: unknown) => ctx.call('PATCH', `/post/${p.id}`, { token: owner.token, body });
    expectAnswer(await edit({ content: 'z'.repeat(3000) }), 200);
    for (const content of ['', 'z'.repeat(3001)]) expectAnswer(await edit({ content }), 400, { hint: 'content: must be 1 to 3000 characters' });
    expectAnswer(await edit({ content: null }), 400, { hint: 'content: must be a string' });
    expectAnswer(await edit({}), 400, { hint: 'content: is required' });
  }, [...LIMITS, ...INPUT]),

  posts('delete — 200 {}, then 404; its comments and reactions go with it', async (ctx) => {
    const [alice, bob, carol] = [await ctx.cast('alice'), await ctx.cast('bob'), await ctx.cast('carol')];
    const p = await ctx.post(alice);
    const c = await ctx.comment(bob, p.id);
    expectAnswer(await ctx.react(bob, `/post/${p.id}`, 3), 201);
    expectAnswer(await ctx.react(carol, `/comment/${c.id}`, 1), 201);
    expectExactly(await ctx.call('DELETE', `/post/${p.id}`, { token: alice.token }), 200, {});
    expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: alice.token }), 404);
    expectAnswer(await ctx.call('DELETE', `/post/${p.id}`, { token: alice.token }), 404);
    expectAnswer(await ctx.call('GET', `/post/${p.id}/comment`, { token: alice.token }), 404);
    expectAnswer(await ctx.call('PATCH', `/comment/${c.id}`, { token: bob.token, body: { content: 'x' } }), 404);
    expectAnswer(await ctx.call('DELETE', `/comment/${c.id}/reaction`, { token: carol.token }), 404);
  }),

  posts('list — every post, newest first, with myReaction for the caller', async (ctx) => {
    const [alice, bob, carol] = [await ctx.cast('alice'), await ctx.cast('bob'), await ctx.cast('carol')];
    const a = await ctx.post(alice);
    const b = await ctx.post(bob);
    await ctx.react(carol, `/post/${a.id}`, 5);
    const res = expectAnswer(await ctx.call('GET', '/post?limit=2', { token: carol.token }), 200);
    expectEqual(ids(res.body.items), [b.id, a.id], 'the newest two posts', res);
    expectAnswer(res, 200, { items: [{ myReaction: null }, { myReaction: 5, reactions: { ...NO_REACTIONS, '5': 1 } }] });
    expectThat(typeof res.body.nextCursor === 'string', 'a full page has no nextCursor', res);
    for (const p of res.body.items) expectEqual(keysOf(p), POST_KEYS, 'the keys of a post', res);
  }),

  posts('names — a changed nickname shows on posts and comments at once', async (ctx) => {
    const [nick, reader] = [await ctx.person({ name: 'Nick' }), await ctx.cast('carol')];
    const p = await ctx.post(nick);
    const c = await ctx.comment(nick, p.id);
    expectAnswer(await ctx.call('PUT', '/me/nickname', { token: nick.token, body: { nickname: '닉네임' } }), 200);
    expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: reader.token }), 200, { owner: { id: nick.id, name: 'Nick', nickname: '닉네임' } });
    const listed = expectAnswer(await ctx.call('GET', `/post/${p.id}/comment`, { token: reader.token }), 200);
    expectEqual(listed.body.items.find((x: { id: number }) => x.id === c.id)?.user, { id: nick.id, name: 'Nick', nickname: '닉네임' }, 'the comment author', listed);
  }),

  timelines("timelines — mine, and another user's, newest first; 404 for an unknown user", async (ctx) => {
    const [user, other, reader] = [await ctx.person(), await ctx.cast('alice'), await ctx.cast('bob')];
    const mine = [await ctx.post(user), await ctx.post(user), await ctx.post(user)].map((p) => p.id).reverse();
    await ctx.post(other);
    const own = expectAnswer(await ctx.call('GET', '/timeline', { token: user.token }), 200, { nextCursor: null });
    expectEqual(ids(own.body.items), mine, 'my timeline', own);
    const theirs = expectAnswer(await ctx.call('GET', `/timeline/${user.id}`, { token: reader.token }), 200);
    expectEqual(ids(theirs.body.items), mine, "the user's timeline", theirs);
    const nobody = ctx.id('nobody');
    expectAnswer(await ctx.call('GET', `/timeline/${nobody}`, { token: reader.token }), 404, { hint: `no user ${nobody}` });
    expectAnswer(await ctx.call('GET', '/timeline/abc%ZZ', { token: reader.token }), 404);
    expectAnswer(await ctx.call('GET', '/timeline/abc%00', { token: reader.token }), 400, { hint: 'userId: must not contain the NUL character (U+0000)' });
  }),

  pagination('pages — limit 1 to 100, default 20; anything else is 400 naming limit', async (ctx) => {
    const writer = await ctx.person();
    for (let i = 0; i < 21; i++) await ctx.post(writer);
    expectEqual((await ctx.call('GET', '/post', { token: writer.token })).body.items.length, 20, 'posts on a page by default');
    expectEqual((await ctx.call('GET', '/post?limit=1', { token: writer.token })).body.items.length, 1, 'posts on a page of limit 1');
    expectEqual((await ctx.call('GET', '/timeline?limit=100', { token: writer.token })).body.items.length, 21, 'posts on a timeline page of limit 100');
    for (const limit of ['0', '101', 'abc', '-5', '2.5']) {
      expectAnswer(await ctx.call('GET', `/post?limit=${limit}`, { token: writer.token }), 400, { hint: 'limit: must be an integer from 1 to 100' });
    }
  }, LIMITS),

  pagination('pages — a malformed cursor, or one from another list, is 400 naming cursor', async (ctx) => {
    const person = await ctx.cast('writer');
    const p = await ctx.post(person);
    await ctx.comment(person, p.id);
    await ctx.comment(person, p.id);
    const res = await ctx.call('GET', `/post/${p.id}/comment?limit=1`, { token: person.token });
    expectThat(typeof res.body.nextCursor === 'string', 'a full page has no nextCursor', res);
    for (const cursor of ['garbage!', 'Zm9vOmJhcg', res.body.nextCursor]) {
      expectAnswer(await ctx.call('GET', `/post?cursor=${cursor}`, { token: person.token }), 400, { hint: 'cursor: is not a cursor this list gave out' });
    }
  }, INPUT),

  pagination('pages — walking 250 posts 7 at a time while others are added gives each once, in order, none skipped', async (ctx) => {
    const [walker, bob] = [await ctx.person(), await ctx.cast('bob')];
    const originals: number[] = [];
    for (let i = 0; i < 250; i++) originals.push((await ctx.post(walker, `original ${i}`)).id);
    const postMeanwhile = () => ctx.post(bob, 'posted meanwhile');
    const timeline = await walk(ctx, `/timeline/${walker.id}`, walker.token, 7, postMeanwhile);
    expectEqual(timeline.pages, Math.ceil(250 / 7), 'pages of the timeline');
    expectEqual(timeline.seen, [...originals].reverse(), 'the timeline, walked');
    // The list of every post too: the originals appear once each, in order, among the others.
    const { seen: all } = await walk(ctx, '/post', walker.token, 7, postMeanwhile);
    expectThat(new Set(all).size === all.length, 'a post was listed twice while walking every post');
    expectEqual(all.filter((id) => originals.includes(id)), [...originals].reverse(), 'the originals among every post');
    expectEqual(all, newestFirst(all), 'every post, walked, newest first');
  }),

  comments('comment — 201 with the comment; the post counts it', async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const p = await ctx.post(alice);
    const res = expectAnswer(await ctx.call('POST', `/post/${p.id}/comment`, { token: bob.token, body: { content: '좋아요' } }), 201);
    expectEqual(
      res.body,
      { id: anyInteger, postId: p.id, user: { id: bob.id, name: 'Bob', nickname: null }, content: '좋아요', modified: false, createdAt: dateTime, reactions: NO_REACTIONS, myReaction: null },
      'the comment',
      res,
    );
    expectEqual(keysOf(res.body), COMMENT_KEYS, 'the keys', res);
    expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: alice.token }), 200, { commentCount: 1 });
  }),

  comments('comment — content of 1 and 1000 passes, 0 and 1001 is 400; 404 on an unknown post', async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const p = await ctx.post(alice);
    const send = (body: unknown, postId = p.id) => ctx.call('POST', `/post/${postId}/comment`, { token: bob.token, body });
    for (const content of ['c', 'c'.repeat(1000), emoji(1000)]) expectAnswer(await send({ content }), 201);
    for (const content of ['', 'c'.repeat(1001), emoji(1001)]) expectAnswer(await send({ content }), 400, { hint: 'content: must be 1 to 1000 characters' });
    expectAnswer(await send({ content: 7 }), 400, { hint: 'content: must be a string' });
    const gone = await ctx.deletedPostId(alice);
    expectAnswer(await send({ content: 'x' }, gone), 404, { hint: `no post ${gone}` });
  }, LIMITS),

  comments('comments — oldest first, in pages; 404 for an unknown post', async (ctx) => {
    const [alice, bob, carol] = [await ctx.cast('alice'), await ctx.cast('bob'), await ctx.cast('carol')];
    const p = await ctx.post(alice);
    const made: number[] = [];
    for (let i = 0; i < 5; i++) made.push((await ctx.comment(i % 2 ? bob : carol, p.id, `c${i}`)).id);
    const first = await ctx.call('GET', `/post/${p.id}/comment?limit=3`, { token: alice.token });
    const second = expectAnswer(await ctx.call('GET', `/post/${p.id}/comment?limit=3&cursor=${first.body.nextCursor}`, { token: alice.token }), 200, { nextCursor: null });
    expectEqual(ids([...first.body.items, ...second.body.items]), made, 'the comments over two pages', second);
    expectAnswer(await ctx.call('GET', `/post/${await ctx.deletedPostId(alice)}/comment`, { token: alice.token }), 404);
  }),

  comments("edit comment — the author's shows modified; limits; an unknown one is 404", async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const p = await ctx.post(alice);
    const c = await ctx.comment(bob, p.id);
    expectExactly(await ctx.call('PATCH', `/comment/${c.id}`, { token: bob.token, body: { content: 'fixed typo' } }), 200, { ...c, content: 'fixed typo', modified: true });
    expectAnswer(await ctx.call('PATCH', `/comment/${c.id}`, { token: bob.token, body: { content: 'x'.repeat(1001) } }), 400, { hint: 'content: must be 1 to 1000 characters' });
    const gone = await ctx.comment(bob, p.id);
    expectAnswer(await ctx.call('DELETE', `/comment/${gone.id}`, { token: bob.token }), 200);
    expectAnswer(await ctx.call('PATCH', `/comment/${gone.id}`, { token: bob.token, body: { content: 'x' } }), 404);
  }),

  comments("delete comment — the author's is 200 and the post counts one less; then 404", async (ctx) => {
    const [alice, bob, carol] = [await ctx.cast('alice'), await ctx.cast('bob'), await ctx.cast('carol')];
    const p = await ctx.post(alice);
    const c = await ctx.comment(bob, p.id);
    await ctx.comment(carol, p.id);
    expectExactly(await ctx.call('DELETE', `/comment/${c.id}`, { token: bob.token }), 200, {});
    expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: alice.token }), 200, { commentCount: 1 });
    expectAnswer(await ctx.call('DELETE', `/comment/${c.id}`, { token: bob.token }), 404);
  }),

  reactions('post reaction — 201 new, 200 changed; counts per type and myReaction follow', async (ctx) => {
    const [alice, bob, carol] = [await ctx.cast('alice'), await ctx.cast('bob'), await ctx.cast('carol')];
    const p = await ctx.post(alice);
    const target = `/post/${p.id}`;
    expectExactly(await ctx.react(bob, target, 2), 201, {});
    expectExactly(await ctx.react(carol, target, 2), 201, {});
    expectAnswer(await ctx.call('GET', target, { token: bob.token }), 200, { reactions: { ...NO_REACTIONS, '2': 2 }, myReaction: 2 });
    expectExactly(await ctx.react(bob, target, 4), 200, {});
    expectAnswer(await ctx.call('GET', target, { token: bob.token }), 200, { reactions: { ...NO_REACTIONS, '2': 1, '4': 1 }, myReaction: 4 });
    expectAnswer(await ctx.react(bob, target, 4), 200);
    expectAnswer(await ctx.call('GET', target, { token: alice.token }), 200, { reactions: { ...NO_REACTIONS, '2': 1, '4': 1 }, myReaction: null });
  }),

  reactions('post reaction — remove: 200, then 404 when there is none; 404 on an unknown post', async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const p = await ctx.post(alice);
    await ctx.react(bob, `/post/${p.id}`, 1);
    expectExactly(await ctx.call('DELETE', `/post/${p.id}/reaction`, { token: bob.token }), 200, {});
    expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: bob.token }), 200, { reactions: NO_REACTIONS, myReaction: null });
    expectAnswer(await ctx.call('DELETE', `/post/${p.id}/reaction`, { token: bob.token }), 404, { hint: `you have no reaction on post ${p.id}` });
    const gone = await ctx.deletedPostId(alice);
    expectAnswer(await ctx.react(bob, `/post/${gone}`, 1), 404);
    expectAnswer(await ctx.call('DELETE', `/post/${gone}/reaction`, { token: bob.token }), 404);
  }),

  reactions('reaction type — 1 to 5 only, as a JSON integer', async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const p = await ctx.post(alice);
    for (const type of [0, 6, -1]) expectAnswer(await ctx.react(bob, `/post/${p.id}`, type), 400, { hint: 'type: must be an integer from 1 to 5' });
    for (const type of ['3', 1.5, null, true]) expectAnswer(await ctx.react(bob, `/post/${p.id}`, type), 400, { hint: 'type: must be an integer' });
    expectAnswer(await ctx.call('POST', `/post/${p.id}/reaction`, { token: bob.token, body: {} }), 400, { hint: 'type: is required' });
    expectAnswer(await ctx.call('POST', `/post/${p.id}/reaction`, { token: bob.token, raw: '{' }), 400);
    expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: bob.token }), 200, { reactions: NO_REACTIONS });
  }, [...LIMITS, ...INPUT]),

  reactions('50 reactions at once by one user on one post leave exactly one', async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const p = await ctx.post(alice);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => ctx.react(bob, `/post/${p.id}`, (i % 5) + 1)));
    expectEqual(answers.filter((a) => a.status === 201).length, 1, 'reactions answered 201');
    expectThat(answers.every((a) => a.status === 201 || a.status === 200), 'an answer was neither 201 nor 200');
    const after = expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: bob.token }), 200);
    const counts = after.body.reactions as Record<string, number>;
    expectEqual(Object.values(counts).reduce((a, b) => a + b, 0), 1, 'reactions counted', after);
    expectEqual(counts[String(after.body.myReaction)], 1, 'the count of my reaction', after);
  }),

  reactions('comment reaction — 201 new, 200 changed, counts and myReaction; remove 200 then 404', async (ctx) => {
    const [alice, bob, carol] = [await ctx.cast('alice'), await ctx.cast('bob'), await ctx.cast('carol')];
    const p = await ctx.post(alice);
    const c = await ctx.comment(bob, p.id);
    expectExactly(await ctx.react(alice, `/comment/${c.id}`, 5), 201, {});
    expectExactly(await ctx.react(alice, `/comment/${c.id}`, 3), 200, {});
    await ctx.react(carol, `/comment/${c.id}`, 3);
    expectAnswer(await ctx.call('GET', `/post/${p.id}/comment`, { token: alice.token }), 200, { items: [{ reactions: { ...NO_REACTIONS, '3': 2 }, myReaction: 3 }] });
    expectExactly(await ctx.call('DELETE', `/comment/${c.id}/reaction`, { token: alice.token }), 200, {});
    expectAnswer(await ctx.call('DELETE', `/comment/${c.id}/reaction`, { token: alice.token }), 404);
    expectAnswer(await ctx.react(alice, `/comment/${c.id}`, 9), 400);
    const gone = await ctx.comment(bob, p.id);
    await ctx.call('DELETE', `/comment/${gone.id}`, { token: bob.token });
    expectAnswer(await ctx.react(alice, `/comment/${gone.id}`, 1), 404);
  }),

  reactions('50 reactions at once by one user on one comment leave exactly one', async (ctx) => {
    const [alice, bob, carol] = [await ctx.cast('alice'), await ctx.cast('bob'), await ctx.cast('carol')];
    const p = await ctx.post(alice);
    const c = await ctx.comment(bob, p.id);
    const answers = await Promise.all(Array.from({ length: 50 }, () => ctx.react(carol, `/comment/${c.id}`, 2)));
    expectEqual(answers.filter((a) => a.status === 201).length, 1, 'reactions answered 201');
    expectAnswer(await ctx.call('GET', `/post/${p.id}/comment`, { token: carol.token }), 200, { items: [{ reactions: { ...NO_REACTIONS, '2': 1 } }] });
  }),
];
