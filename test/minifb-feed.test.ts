import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { commentsPageQuery, postsPageQuery } from '../modules/feed/queries.ts';
import type { FeedDatabase } from '../modules/feed/schema.ts';
import { feedEvents, FEED_EVENTS_STREAM, FEED_EVENTS_SUBJECTS } from '../modules/feed/contract/index.ts';
import type { DeliveredEvent } from '../platform/bus/types.ts';
import { PG_ADMIN_URL } from './support/shop.ts';
import { minifbConformance } from './support/conformance.ts';
import { eventually, startMinifb, type Backend, type Minifb } from './support/minifb.ts';

/**
 * minifb posts, timelines, comments and reactions (shared/specs/minifb.md: "Posts and
 * timelines", "Comments", "Reactions", "Pagination"), on embedded PGlite, on Postgres and split:
 * the conformance kit's sections, then what a client cannot see — the events for other domains
 * and the database.
 */

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

  // Posts, timelines, pagination, comments and reactions as any client can check them: the
  // conformance kit (test/conformance/minifb/feed.ts).
  minifbConformance('feed', () => fb);

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
        // A busy minute's tallies not folded yet: fifty reactions on each of the newest posts and
        // of the busy post's last comments. Their rows are locked meanwhile, so the folder (which
        // skips locked rows) leaves the tallies for the plans to read.
        const holder = new pg.Client({ connectionString: Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${fb.databases.feed}` }).toString() });
        await holder.connect();
        await holder.query('BEGIN');
        await holder.query('SELECT id FROM post WHERE id > (SELECT max(id) - 100 FROM post) FOR NO KEY UPDATE');
        await holder.query('SELECT id FROM comment WHERE post_id = $1 AND id > (SELECT max(id) - 100 FROM comment WHERE post_id = $1) FOR NO KEY UPDATE', [busy.id]);
        await db.query('INSERT INTO post_tally (post_id, r1) SELECT id, 1 FROM post, generate_series(1, 50) WHERE id > (SELECT max(id) - 100 FROM post)');
        await db.query('INSERT INTO comment_tally (comment_id, r2) SELECT id, 1 FROM comment, generate_series(1, 50) WHERE post_id = $1 AND id > (SELECT max(id) - 100 FROM comment WHERE post_id = $1)', [busy.id]);
        // First with the visibility map behind (analysed, not vacuumed: what a busy database has
        // while a long transaction holds vacuum back), then with it current.
        for (const table of ['post', 'comment']) await db.query(`ALTER TABLE ${table} SET (autovacuum_enabled = off)`);
        await db.query('ANALYZE');
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
          for (const vacuumed of [false, true]) {
            if (vacuumed) {
              for (const table of ['post', 'comment']) await db.query(`ALTER TABLE ${table} RESET (autovacuum_enabled)`);
              await db.query('VACUUM ANALYZE');
            }
            for (const [page, query, index] of pages) {
              const plan = (await db.query(`EXPLAIN (ANALYZE, TIMING OFF) ${query.sql}`, [...query.parameters])).rows.map((r) => r['QUERY PLAN']).join('\n');
              // No row is read to be thrown away: the index range is the page.
              const removed = Math.max(0, ...[...plan.matchAll(/Rows Removed by Filter: (\d+)/g)].map((m) => Number(m[1])));
              // Each row's tallies are an index range too.
              const tallies = /comment/.test(page) ? /comment_tally_comment_id/ : /post_tally_post_id/;
              expect({ page, vacuumed, index: index.test(plan), tallies: tallies.test(plan), seqScan: /Seq Scan/.test(plan), sort: /\bSort\b/.test(plan), removed }).toEqual({
                page,
                vacuumed,
                index: true,
                tallies: true,
                seqScan: false,
                sort: false,
                removed: 0,
              });
            }
          }
          const today = (await db.query("EXPLAIN SELECT count(*) FROM post WHERE created_at >= now() - interval '1 hour'")).rows.map((r) => r['QUERY PLAN']).join('\n');
          expect(today).toMatch(/post_created_at/);
        } finally {
          await holder.query('ROLLBACK').catch(() => {});
          await holder.end();
          await kysely.destroy();
        }
      }, 60000);
    });
  }
});
