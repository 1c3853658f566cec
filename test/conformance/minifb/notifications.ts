/**
 * minifb notifications (shared/specs/minifb.md, "Notifications"): made after the answer, so each
 * check waits for them with a deadline; "none" is checked after a later marker has arrived.
 */
import { checksOf, dateTime, expectAnswer, expectEqual, expectExactly } from '../kit.ts';
import { keysOf, NOTIFICATION_KEYS, type MinifbContext, type Person } from './context.ts';

const check = checksOf<MinifbContext>('notifications');

/** A post owner, someone else, and a post of the owner's. */
async function scene(ctx: MinifbContext) {
  const owner = await ctx.person({ name: 'Owner' });
  const other = await ctx.cast('other');
  const post = await ctx.post(owner, 'a post');
  return { owner, other, post };
}
const commentOn = (ctx: MinifbContext, by: Person, postId: number, content = 'a comment') => ctx.comment(by, postId, content);
const ids = (items: { id: number }[]) => items.map((i) => i.id);

export const notificationChecks = [
  check('a comment by someone else on my post — type 1 naming the actor and the post', async (ctx) => {
    const { owner, other, post } = await scene(ctx);
    const before = Date.now();
    await commentOn(ctx, other, post.id, 'hello');
    await ctx.settled(owner, 1);
    const res = expectAnswer(await ctx.call('GET', '/notification', { token: owner.token }), 200, { unreadCount: 1, nextCursor: null });
    expectEqual(keysOf(res.body), ['items', 'nextCursor', 'unreadCount'], 'the keys', res);
    const [item] = res.body.items;
    expectEqual(item, { id: item.id, type: 1, actor: { id: other.id, name: 'Other', nickname: 'oth' }, postId: post.id, read: false, createdAt: dateTime }, 'the notification', res);
    expectEqual(keysOf(item), NOTIFICATION_KEYS, 'the keys of a notification', res);
    expectEqual(Date.parse(item.createdAt) >= before - 1000, true, 'createdAt is not before the comment', res);
  }),

  check('my own comment or reaction on my post — no notification', async (ctx) => {
    const { owner, post } = await scene(ctx);
    await commentOn(ctx, owner, post.id, 'mine');
    expectAnswer(await ctx.react(owner, `/post/${post.id}`, 1), 201);
    await ctx.quiet();
    expectAnswer(await ctx.call('GET', '/notification', { token: owner.token }), 200, { items: [] });
  }),

  check('a first reaction by someone else — type 2; a changed type does not notify again', async (ctx) => {
    const { owner, other, post } = await scene(ctx);
    await ctx.react(other, `/post/${post.id}`, 3);
    await ctx.react(other, `/post/${post.id}`, 5);
    await ctx.settled(owner, 1);
    await ctx.quiet();
    expectAnswer(await ctx.call('GET', '/notification', { token: owner.token }), 200, { items: [{ type: 2, actor: { id: other.id } }] });
  }),

  check('a reaction removed and given again is still one notification for that user and post', async (ctx) => {
    const { owner, other, post } = await scene(ctx);
    await ctx.react(other, `/post/${post.id}`, 1);
    await ctx.call('DELETE', `/post/${post.id}/reaction`, { token: other.token });
    await ctx.react(other, `/post/${post.id}`, 2);
    await ctx.settled(owner, 1);
    await ctx.quiet();
    expectAnswer(await ctx.call('GET', '/notification', { token: owner.token }), 200, { items: [{ type: 2 }] });
  }),

  check('every comment notifies: two comments and a reaction, three notifications, newest first', async (ctx) => {
    const { owner, other, post } = await scene(ctx);
    await commentOn(ctx, other, post.id, 'one');
    await ctx.react(other, `/post/${post.id}`, 4);
    await commentOn(ctx, other, post.id, 'two');
    await ctx.settled(owner, 3);
    const res = await ctx.call('GET', '/notification', { token: owner.token });
    expectEqual(res.body.items.map((i: { type: number }) => i.type), [1, 2, 1], 'the types, newest first', res);
  }),

  check("a deleted post's notifications go with it", async (ctx) => {
    const { owner, other, post } = await scene(ctx);
    await commentOn(ctx, other, post.id, 'soon gone');
    await ctx.settled(owner, 1);
    expectAnswer(await ctx.call('DELETE', `/post/${post.id}`, { token: owner.token }), 200);
    await ctx.settled(owner, 0);
    expectAnswer(await ctx.call('GET', '/notification', { token: owner.token }), 200, { unreadCount: 0 });
  }),

  check('pages newest first; the unread filter; unreadCount counts every unread one', async (ctx) => {
    const { owner, other, post } = await scene(ctx);
    for (let i = 0; i < 5; i++) await commentOn(ctx, other, post.id, `c${i}`);
    await ctx.settled(owner, 5);
    const all = ids((await ctx.notifications(owner)).items);
    expectEqual(all, [...all].sort((a, b) => b - a), 'the notifications, newest first');
    const first = await ctx.notifications(owner, '?limit=2');
    const second = await ctx.notifications(owner, `?limit=2&cursor=${first.nextCursor}`);
    const third = await ctx.notifications(owner, `?limit=2&cursor=${second.nextCursor}`);
    expectEqual(ids([...first.items, ...second.items, ...third.items]), all, 'the notifications over three pages');
    expectEqual(third.nextCursor, null, 'the nextCursor of the last page');
    expectEqual(first.unreadCount, 5, 'unreadCount on a page of 2');

    expectExactly(await ctx.call('POST', `/notification/${all[1]}/read`, { token: owner.token }), 200, {});
    const unread = await ctx.notifications(owner, '?unread=true');
    expectEqual(ids(unread.items), all.filter((id) => id !== all[1]), 'the unread ones');
    expectEqual(unread.unreadCount, 4, 'unreadCount after one was read');
    const read = await ctx.notifications(owner, '?unread=false');
    expectEqual(read.items.map((i: { id: number; read: boolean }) => [i.id, i.read]), [[all[1], true]], 'the read ones');
  }),

  check("mark one read — 200 {}, again 200; 404 for someone else's, an unknown or a non-numeric id", async (ctx) => {
    const { owner, other, post } = await scene(ctx);
    await commentOn(ctx, other, post.id, 'x');
    await ctx.settled(owner, 1);
    const [item] = (await ctx.notifications(owner)).items;
    expectExactly(await ctx.call('POST', `/notification/${item.id}/read`, { token: other.token }), 404, { result: 'Not Found', hint: `no notification ${item.id}` });
    expectAnswer(await ctx.call('GET', '/notification', { token: owner.token }), 200, { items: [{ read: false }] });
    expectExactly(await ctx.call('POST', `/notification/${item.id}/read`, { token: owner.token }), 200, {});
    expectAnswer(await ctx.call('GET', '/notification', { token: owner.token }), 200, { items: [{ read: true }] });
    // Marking it again is fine: it is read.
    expectAnswer(await ctx.call('POST', `/notification/${item.id}/read`, { token: owner.token }), 200);
    for (const id of ['987654', 'abc', '0']) expectAnswer(await ctx.call('POST', `/notification/${id}/read`, { token: owner.token }), 404);
  }),

  check('mark all read — {count} of those that were unread, and only mine', async (ctx) => {
    const s = await scene(ctx);
    const t = await scene(ctx);
    for (const x of [s, t]) for (let i = 0; i < 3; i++) await commentOn(ctx, x.other, x.post.id, `c${i}`);
    await ctx.settled(s.owner, 3);
    await ctx.settled(t.owner, 3);
    expectExactly(await ctx.call('POST', '/notification/read', { token: s.owner.token }), 200, { count: 3 });
    expectExactly(await ctx.call('POST', '/notification/read', { token: s.owner.token }), 200, { count: 0 });
    expectEqual((await ctx.notifications(s.owner)).unreadCount, 0, 'my unreadCount');
    expectEqual((await ctx.notifications(t.owner)).unreadCount, 3, "someone else's unreadCount");
  }),

  check('bad input — limit, cursor and unread are checked; no token is 401; DELETE is 405', async (ctx) => {
    const { owner } = await scene(ctx);
    const list = (query: string) => ctx.call('GET', `/notification${query}`, { token: owner.token });
    expectAnswer(await list('?limit=0'), 400, { hint: 'limit: must be an integer from 1 to 100' });
    expectAnswer(await list('?cursor=nope!'), 400, { hint: 'cursor: is not a cursor this list gave out' });
    expectAnswer(await list('?unread=yes'), 400, { hint: 'unread: must be true or false' });
    for (const [method, path] of [['GET', '/notification'], ['POST', '/notification/read'], ['POST', '/notification/1/read']]) expectAnswer(await ctx.call(method!, path!), 401);
    expectAnswer(await ctx.call('DELETE', '/notification', { token: owner.token }), 405);
  }, ['input']),
];
