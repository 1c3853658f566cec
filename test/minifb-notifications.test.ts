import { describe, expect, test } from 'bun:test';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { feedEvents } from '../modules/feed/contract/index.ts';
import { notificationsPageQuery } from '../modules/notification/queries.ts';
import type { NotificationDatabase } from '../modules/notification/schema.ts';
import { PG_ADMIN_URL } from './support/shop.ts';
import { minifbConformance } from './support/conformance.ts';
import { eventually, minifbForSuite, type Backend, type Minifb } from './support/minifb.ts';

/**
 * minifb notifications (shared/specs/minifb.md, "Notifications"): made from the feed's events by
 * a durable consumer, on embedded PGlite, on Postgres and split: the conformance kit's section,
 * then what only the bus can show (redelivered and late events) and the database.
 */

describe.each(['pglite', 'pg', 'split'] as Backend[])('minifb notifications on %s', (backend) => {
  let fb: Minifb;
  let n = 0;

  minifbForSuite({ backend }, (started) => (fb = started));

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
  const settled = (token: string, count: number) => eventually(async () => (await list(token)).items.length === count, 15000, `${count} notifications`);
  /** Lets every event published so far be handled, so that "none" means none. */
  const quiet = async () => {
    const marker = await scene();
    await fb.call('POST', `/post/${marker.post.id}/comment`, { token: marker.otherToken, body: { content: 'marker' } });
    await settled(marker.ownerToken, 1);
  };

  // Every rule a client can check: the conformance kit (test/conformance/minifb/notifications.ts).
  minifbConformance('notifications', () => fb);

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
    // (The kit's clean-up before this test queued an event per post it deleted: this one waits its turn.)
  }, 60000);

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
});
