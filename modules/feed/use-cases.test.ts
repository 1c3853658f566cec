import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Kysely } from 'kysely';
import { MemoryBus } from '../../platform/bus/memory.ts';
import { createLogger } from '../../platform/observability/log.ts';
import { platformMigrations } from '../../platform/data/migrations.ts';
import { Outbox } from '../../platform/data/outbox.ts';
import { embeddedDatabase } from '../../test/support/scratch.ts';
import type { Caller } from '../account/contract/index.ts';
import { migrations } from './migrations.ts';
import type { FeedDatabase } from './schema.ts';
import { feedUseCases, type AccountOf } from './use-cases.ts';

/**
 * A page costs the same number of queries whatever it shows: counts live on the rows, and the
 * caller's reactions to a whole page come in one query (no query per post).
 */
let db: Kysely<FeedDatabase>;
let queries: string[] = [];
const log = createLogger({ test: 'feed' });
const people = ['ann', 'ben', 'cid'];
const account: AccountOf = (id) => (people.includes(id) ? { id, name: id.toUpperCase(), nickname: null, admin: false, tokenVersion: 0 } : undefined);
const me = (id: string): Caller => ({ id, admin: false });

beforeAll(async () => {
  db = await embeddedDatabase<FeedDatabase>([...Object.values(platformMigrations), ...Object.values(migrations)], (sql) => queries.push(sql));
}, 30000);

afterAll(async () => {
  await db?.destroy();
});

describe('feed use cases', () => {
  test('a page of posts is two queries, however many reactions and comments its posts have', async () => {
    const bus = new MemoryBus(log);
    const outbox = new Outbox(db as Kysely<any>, bus, log);
    const feed = feedUseCases({ db, background: db, outbox, account });
    for (let i = 0; i < 30; i++) {
      const p = await feed.createPost(me(people[i % 3]!), `post ${i}`);
      for (const who of people) await feed.reactToPost(me(who), p.id, (i % 5) + 1);
      await feed.addComment(me(people[(i + 1) % 3]!), p.id, `comment on ${i}`);
    }
    // Writes with events answer at commit; their relay passes run in the background: let them end.
    await outbox.flush(5000);
    queries = [];
    const page = await feed.posts(me('ann'), { limit: 20, after: undefined });
    expect(page.items).toHaveLength(20);
    expect(page.items.every((p) => p.commentCount === 1 && p.myReaction !== null)).toBe(true);
    expect(queries).toHaveLength(2);

    queries = [];
    const deeper = await feed.posts(me('ben'), { limit: 5, after: page.items[19]!.id });
    expect(deeper.items.map((p) => p.id)).toEqual([10, 9, 8, 7, 6]);
    expect(queries).toHaveLength(2);

    queries = [];
    await feed.timeline(me('cid'), 'ann', { limit: 20, after: undefined });
    expect(queries).toHaveLength(2);
  }, 60000);

  test('a page of comments is three queries (the post, the page, the caller\'s reactions)', async () => {
    const bus = new MemoryBus(log);
    const outbox = new Outbox(db as Kysely<any>, bus, log);
    const feed = feedUseCases({ db, background: db, outbox, account });
    const p = await feed.createPost(me('ann'), 'busy post');
    for (let i = 0; i < 25; i++) {
      const c = await feed.addComment(me(people[i % 3]!), p.id, `c${i}`);
      await feed.reactToComment(me('ben'), c.id, 2);
    }
    await outbox.flush(5000);
    queries = [];
    const page = await feed.comments(me('ben'), p.id, { limit: 20, after: undefined });
    expect(page.items).toHaveLength(20);
    expect(page.items.every((c) => c.myReaction === 2 && c.reactions['2'] === 1)).toBe(true);
    expect(queries).toHaveLength(3);
  }, 60000);
});
