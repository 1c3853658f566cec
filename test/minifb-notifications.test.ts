import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { feedEvents } from '../modules/feed/contract/index.ts';
import { notificationsPageQuery } from '../modules/notification/queries.ts';
import type { NotificationDatabase } from '../modules/notification/schema.ts';
import { PG_ADMIN_URL } from './support/shop.ts';
import { eventually, startMinifb, type Backend, type Minifb } from './support/minifb.ts';

/**
 * minifb notifications (shared/specs/minifb.md, "Notifications"): made from the feed's events by
 * a durable consumer, on embedded PGlite and on Postgres.
 */
const KEYS = ['actor', 'createdAt', 'id', 'postId', 'read', 'type'];

describe.each(['pglite', 'pg', 'split'] as Backend[])('minifb notifications on %s', (backend) => {
  let fb: Minifb;
  let n = 0;

  beforeAll(async () => {
    fb = await startMinifb({ backend });
  }, 90000);

  afterAll(async () => {
    await fb?.stop();
  }, 30000);

  /** A fresh owner, a fresh other user, and a post of the owner's. */
  async function scene() {
    const owner = `own${backend}${++n}`;
    const other = `oth${backend}${n}`;
    const ownerToken = await fb.user(owner, { name: 'Owner' });
    const otherToken = await fb.user(other, { name: 'Other', nickname: 'oth' });
    const post = (await fb.call('POST', '/post', { token: ownerToken, body: { content: 'a post' } })).body;
    return { owner, other, ownerToken, otherToken, post };
  }
  const list = async (token: string, query = '') => (await fb.call('GET', `/notification${query}`, { token })).body;
  /** Waits for the consumer: `count` notifications for the token's user. */
  const settled = (token: string, count: number) => eventually(async () => (await list(token)).items.length === count, 5000, `${count} notifications`);
  /** Lets every event published so far be handled, so that "none" means none. */
  const quiet = async () => {
    const marker = await scene();
    await fb.call('POST', `/post/${marker.post.id}/comment`, { token: marker.otherToken, body: { content: 'marker' } });
    await settled(marker.ownerToken, 1);
  };

  test('a comment by someone else on my post — type 1 naming the actor and the post', async () => {
    const s = await scene();
    const before = Date.now();
    await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: 'hello' } });
    await settled(s.ownerToken, 1);
    const body = await list(s.ownerToken);
    expect(Object.keys(body).sort()).toEqual(['items', 'nextCursor', 'unreadCount']);
    expect(body.unreadCount).toBe(1);
    expect(body.nextCursor).toBeNull();
    const [item] = body.items;
    expect(Object.keys(item).sort()).toEqual(KEYS);
    expect(item).toMatchObject({ type: 1, actor: { id: s.other, name: 'Other', nickname: 'oth' }, postId: s.post.id, read: false });
    expect(Date.parse(item.createdAt)).toBeGreaterThanOrEqual(before - 1000);
  });

  test('my own comment or reaction on my post — no notification', async () => {
    const s = await scene();
    await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.ownerToken, body: { content: 'mine' } });
    await fb.call('POST', `/post/${s.post.id}/reaction`, { token: s.ownerToken, body: { type: 1 } });
    await quiet();
    expect((await list(s.ownerToken)).items).toEqual([]);
  });

  test('a first reaction by someone else — type 2; a changed type does not notify again', async () => {
    const s = await scene();
    await fb.call('POST', `/post/${s.post.id}/reaction`, { token: s.otherToken, body: { type: 3 } });
    await fb.call('POST', `/post/${s.post.id}/reaction`, { token: s.otherToken, body: { type: 5 } });
    await settled(s.ownerToken, 1);
    await quiet();
    const { items } = await list(s.ownerToken);
    expect(items.map((i: { type: number; actor: { id: string } }) => [i.type, i.actor.id])).toEqual([[2, s.other]]);
  });

  test('a reaction removed and given again is still one notification for that user and post', async () => {
    const s = await scene();
    await fb.call('POST', `/post/${s.post.id}/reaction`, { token: s.otherToken, body: { type: 1 } });
    await fb.call('DELETE', `/post/${s.post.id}/reaction`, { token: s.otherToken });
    await fb.call('POST', `/post/${s.post.id}/reaction`, { token: s.otherToken, body: { type: 2 } });
    await settled(s.ownerToken, 1);
    await quiet();
    expect((await list(s.ownerToken)).items).toHaveLength(1);
  });

  test('every comment notifies: two comments, two notifications, newest first', async () => {
    const s = await scene();
    await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: 'one' } });
    await fb.call('POST', `/post/${s.post.id}/reaction`, { token: s.otherToken, body: { type: 4 } });
    await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: 'two' } });
    await settled(s.ownerToken, 3);
    expect((await list(s.ownerToken)).items.map((i: { type: number }) => i.type)).toEqual([1, 2, 1]);
  });

  test("a deleted post's notifications go with it", async () => {
    const s = await scene();
    await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: 'soon gone' } });
    await settled(s.ownerToken, 1);
    await fb.call('DELETE', `/post/${s.post.id}`, { token: s.ownerToken });
    await settled(s.ownerToken, 0);
    expect((await list(s.ownerToken)).unreadCount).toBe(0);
  });

  test('a redelivered event makes no second notification; an event about a deleted post arriving late makes none', async () => {
    const s = await scene();
    await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: 'once' } });
    await settled(s.ownerToken, 1);
    const { bus } = fb;
    const event = { eventId: `redelivered-${backend}-${n}`, postId: s.post.id, postOwner: s.owner, actor: s.other, commentId: 999, at: new Date().toISOString() };
    // The same event twice (a new message id each time, as a redelivery after a lost ack looks).
    await bus.publish(feedEvents.commented, event, { msgId: `a-${event.eventId}` });
    await bus.publish(feedEvents.commented, event, { msgId: `b-${event.eventId}` });
    await settled(s.ownerToken, 2);
    await quiet();
    expect((await list(s.ownerToken)).items).toHaveLength(2);

    await fb.call('DELETE', `/post/${s.post.id}`, { token: s.ownerToken });
    await settled(s.ownerToken, 0);
    await bus.publish(feedEvents.commented, { ...event, eventId: `late-${event.eventId}` }, { msgId: `late-${event.eventId}` });
    await quiet();
    expect((await list(s.ownerToken)).items).toEqual([]);
  });

  test('pages newest first; the unread filter; unreadCount counts every unread one', async () => {
    const s = await scene();
    for (let i = 0; i < 5; i++) await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: `c${i}` } });
    await settled(s.ownerToken, 5);
    const all = (await list(s.ownerToken)).items.map((i: { id: number }) => i.id);
    expect(all).toEqual([...all].sort((a: number, b: number) => b - a));
    const first = await list(s.ownerToken, '?limit=2');
    const second = await list(s.ownerToken, `?limit=2&cursor=${first.nextCursor}`);
    const third = await list(s.ownerToken, `?limit=2&cursor=${second.nextCursor}`);
    expect([...first.items, ...second.items, ...third.items].map((i: { id: number }) => i.id)).toEqual(all);
    expect(third.nextCursor).toBeNull();
    expect(first.unreadCount).toBe(5);

    expect((await fb.call('POST', `/notification/${all[1]}/read`, { token: s.ownerToken })).status).toBe(200);
    const unread = await list(s.ownerToken, '?unread=true');
    expect(unread.items.map((i: { id: number }) => i.id)).toEqual(all.filter((id: number) => id !== all[1]));
    expect(unread.unreadCount).toBe(4);
    const read = await list(s.ownerToken, '?unread=false');
    expect(read.items.map((i: { id: number; read: boolean }) => [i.id, i.read])).toEqual([[all[1], true]]);
  });

  test('mark one read — 200 {}; 404 for someone else\'s, an unknown or a non-numeric id', async () => {
    const s = await scene();
    await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: 'x' } });
    await settled(s.ownerToken, 1);
    const [item] = (await list(s.ownerToken)).items;
    expect(await fb.call('POST', `/notification/${item.id}/read`, { token: s.otherToken })).toMatchObject({ status: 404, body: { result: 'Not Found', hint: `no notification ${item.id}` } });
    expect((await list(s.ownerToken)).items[0].read).toBe(false);
    expect(await fb.call('POST', `/notification/${item.id}/read`, { token: s.ownerToken })).toMatchObject({ status: 200, body: {} });
    expect((await list(s.ownerToken)).items[0].read).toBe(true);
    // Marking it again is fine: it is read.
    expect((await fb.call('POST', `/notification/${item.id}/read`, { token: s.ownerToken })).status).toBe(200);
    for (const id of ['987654', 'abc', '0']) expect((await fb.call('POST', `/notification/${id}/read`, { token: s.ownerToken })).status).toBe(404);
  });

  test('mark all read — {count} of those that were unread, and only mine', async () => {
    const s = await scene();
    const t = await scene();
    for (const x of [s, t]) for (let i = 0; i < 3; i++) await fb.call('POST', `/post/${x.post.id}/comment`, { token: x.otherToken, body: { content: `c${i}` } });
    await settled(s.ownerToken, 3);
    await settled(t.ownerToken, 3);
    expect(await fb.call('POST', '/notification/read', { token: s.ownerToken })).toMatchObject({ status: 200, body: { count: 3 } });
    expect((await fb.call('POST', '/notification/read', { token: s.ownerToken })).body).toEqual({ count: 0 });
    expect((await list(s.ownerToken)).unreadCount).toBe(0);
    expect((await list(t.ownerToken)).unreadCount).toBe(3);
  });

  test('bad input — limit, cursor and unread are checked; no token is 401', async () => {
    const s = await scene();
    expect((await fb.call('GET', '/notification?limit=0', { token: s.ownerToken })).body.hint).toBe('limit: must be an integer from 1 to 100');
    expect((await fb.call('GET', '/notification?cursor=nope!', { token: s.ownerToken })).body.hint).toBe('cursor: is not a cursor this list gave out');
    expect(await fb.call('GET', '/notification?unread=yes', { token: s.ownerToken })).toMatchObject({ status: 400, body: { hint: 'unread: must be true or false' } });
    expect((await fb.call('GET', '/notification')).status).toBe(401);
    expect((await fb.call('POST', '/notification/read')).status).toBe(401);
    expect((await fb.call('POST', '/notification/1/read')).status).toBe(401);
    expect((await fb.call('DELETE', '/notification', { token: s.ownerToken })).status).toBe(405);
  });

  test('every answer in these tests matches the schema the OpenAPI document declares for its route and status', async () => {
    expect(fb.seen.length).toBeGreaterThan(50);
    expect(await fb.openapiProblems()).toEqual([]);
  });

  if (backend !== 'pglite') {
    test('a page reads an index range of the recipient, unread or not — even for one notified much long ago', async () => {
      const url = Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${fb.databases.notification}` }).toString();
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      const kysely = new Kysely<NotificationDatabase>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }) });
      try {
        await db.query("INSERT INTO notification (recipient_id, type, actor_id, post_id, read, event_id) SELECT 'popular', 1, 'fan', g, g % 3 = 0, 'old-' || g FROM generate_series(1, 60000) g");
        await db.query("INSERT INTO notification (recipient_id, type, actor_id, post_id, event_id) SELECT 'user' || (g % 300), 1, 'fan', g, 'new-' || g FROM generate_series(1, 150000) g");
        await db.query('VACUUM ANALYZE notification');
        const { rows: [mid] } = await db.query("SELECT id FROM notification WHERE recipient_id = 'popular' ORDER BY id LIMIT 1 OFFSET 30000");
        const pages: [string, { sql: string; parameters: readonly unknown[] }, RegExp][] = [
          ['all, first page', notificationsPageQuery(kysely, 'popular', { limit: 21 }).compile(), /using notification_recipient/],
          ['all, deep page', notificationsPageQuery(kysely, 'popular', { before: Number(mid.id), limit: 21 }).compile(), /using notification_recipient/],
          ['unread, first page', notificationsPageQuery(kysely, 'popular', { read: false, limit: 21 }).compile(), /using notification_unread/],
          ['unread, deep page', notificationsPageQuery(kysely, 'popular', { read: false, before: Number(mid.id), limit: 21 }).compile(), /using notification_unread/],
        ];
        for (const [page, query, index] of pages) {
          const plan = (await db.query(`EXPLAIN (ANALYZE, TIMING OFF) ${query.sql}`, [...query.parameters])).rows.map((r) => r['QUERY PLAN']).join('\n');
          const removed = Math.max(0, ...[...plan.matchAll(/Rows Removed by Filter: (\d+)/g)].map((m) => Number(m[1])));
          expect({ page, index: index.test(plan), seqScan: /Seq Scan/.test(plan), sort: /\bSort\b/.test(plan), removed }).toEqual({ page, index: true, seqScan: false, sort: false, removed: 0 });
        }
      } finally {
        await kysely.destroy();
        await db.end();
      }
    }, 60000);
  }

  test('no answer in these tests was a 5xx', () => {
    expect(fb.seen.filter((r) => r.status >= 500)).toEqual([]);
  });
});
