/**
 * The SQL floor of minifb's endpoints, reads and writes: a bare Bun.serve that runs, for each
 * request, the statements the account and feed modules run for it (their own query functions,
 * through the same Kysely and driver: `pg` with the modules' pool, or PGlite) in the same
 * transactions, and the same event publishes (NATS JetStream with a message id, or the in-process
 * bus), and answers the same JSON. No routing framework, no schemas, no authentication (the
 * caller is the bearer token's `sub`, unchecked), no outbox: what no implementation of those
 * endpoints can beat on the same database.
 *
 *   bun bench/minifb-floor-server.ts <port> pg <account db url> <feed db url> <nats url> <namespace>
 *   bun bench/minifb-floor-server.ts <port> pglite <data dir>
 *
 * With pglite the floor has databases of its own under <data dir> (an embedded database has one
 * owner); `POST /_seed` fills them with what the bench gave the system.
 */
import type { Kysely } from 'kysely';
import { openDatabase } from '../platform/data/db.ts';
import { createLogger } from '../platform/observability/log.ts';
import type { Bus } from '../platform/bus/types.ts';
import { MemoryBus } from '../platform/bus/memory.ts';
import { migrations as accountMigrations } from '../modules/account/migrations.ts';
import { migrations as feedMigrations } from '../modules/feed/migrations.ts';
import { findAccount, insertAccount } from '../modules/account/queries.ts';
import type { AccountDatabase } from '../modules/account/schema.ts';
import * as q from '../modules/feed/queries.ts';
import type { FeedDatabase } from '../modules/feed/schema.ts';
import { FEED_EVENTS_STREAM, FEED_EVENTS_SUBJECTS, feedEvents } from '../modules/feed/contract/index.ts';

const [portArg, kind, ...rest] = Bun.argv.slice(2);
const log = createLogger({ bench: 'minifb-floor' });
const open = (module: string, url: string | undefined, dataDir: string, migrations: typeof feedMigrations) => openDatabase({ module, url, dataDir, migrations, log });
let accounts: Kysely<AccountDatabase>;
let feed: Kysely<FeedDatabase>;
let bus: Bus;
if (kind === 'pg') {
  const [accountUrl, feedUrl, natsUrl, namespace] = rest as [string, string, string, string];
  accounts = (await open('account', accountUrl, '', accountMigrations)).db;
  feed = (await open('feed', feedUrl, '', feedMigrations)).db;
  const { NatsBus } = await import('../platform/bus/nats/index.ts');
  bus = await NatsBus.connect({ servers: natsUrl, namespace, log });
} else {
  const [dataDir] = rest as [string];
  accounts = (await open('account', undefined, dataDir, accountMigrations)).db;
  feed = (await open('feed', undefined, dataDir, feedMigrations)).db;
  bus = new MemoryBus(log);
}
await bus.ensureStream({ name: FEED_EVENTS_STREAM, subjects: FEED_EVENTS_SUBJECTS });
// The tallies of reactions and comments are folded into their rows as the system folds them (on
// Postgres the system's own folder does it for the shared database).
if (kind !== 'pg') {
  setInterval(async () => {
    await q.foldPostTallies(feed, 500);
    await q.foldCommentTallies(feed, 500);
    await q.foldCounterTallies(feed);
  }, 50);
}

const headers = { 'content-type': 'application/json; charset=utf-8' };
const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers });
const reactions = (r: q.PostRow | q.CommentRow) => ({ '1': r.r1, '2': r.r2, '3': r.r3, '4': r.r4, '5': r.r5 });
const ref = (id: string) => ({ id, name: id, nickname: null });
const postView = (p: q.PostRow, mine: number | undefined) => ({
  id: Number(p.id),
  owner: ref(p.owner_id),
  content: p.content,
  modified: p.modified,
  createdAt: p.created_at.toISOString(),
  reactions: reactions(p),
  myReaction: mine ?? null,
  commentCount: p.comment_count,
});
const publish = (subject: string, payload: Record<string, unknown>) => {
  const eventId = Bun.randomUUIDv7();
  return bus.publish(subject, { ...payload, eventId, at: new Date().toISOString() }, { msgId: eventId });
};
const callerOf = (request: Request) => {
  const token = (request.headers.get('authorization') ?? '').slice('Bearer '.length);
  return String(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub);
};
const page = async (me: string, ownerId?: string) => {
  const posts = (await q.listPosts(feed, { ownerId, limit: 21 })).slice(0, 20);
  const mine = await q.myPostReactions(feed, me, posts.map((p) => Number(p.id)));
  return json({ items: posts.map((p) => postView(p, mine.get(Number(p.id)))), nextCursor: null });
};

Bun.serve({
  port: Number(portArg),
  hostname: '127.0.0.1',
  async fetch(request) {
    const url = new URL(request.url);
    const parts = url.pathname.split('/');
    if (url.pathname === '/_ready') return json({});
    if (url.pathname === '/_seed') {
      const seed = (await request.json()) as { accounts: string[]; posts: { owner: string; content: string }[] };
      for (const id of seed.accounts) await insertAccount(accounts, { id, password_hash: 'pbkdf2:sha256:1$x$0', name: id, nickname: null, bio: null });
      for (const p of seed.posts) await feed.transaction().execute((tx) => q.insertPost(tx, p.owner, p.content));
      return json({});
    }
    const me = callerOf(request);
    if (request.method === 'GET') {
      if (url.pathname === '/me') {
        const row = (await findAccount(accounts, me))!;
        return json({ id: row.id, name: row.name, nickname: row.nickname, bio: row.bio, createdAt: row.created_at.toISOString() });
      }
      if (url.pathname === '/post') return page(me);
      if (parts[1] === 'timeline') return page(me, parts[2]!);
      if (parts[1] === 'post') {
        const row = await q.findPost(feed, Number(parts[2]));
        if (!row) return json({ result: 'Not Found', hint: 'no post' }, 404);
        const mine = await q.myPostReactions(feed, me, [Number(row.id)]);
        return json(postView(row, mine.get(Number(row.id))));
      }
    }
    if (request.method === 'POST') {
      const body = (await request.json()) as { content?: string; type?: number };
      if (url.pathname === '/post') {
        const row = await feed.transaction().execute((tx) => q.insertPost(tx, me, body.content!));
        return json(postView(row, undefined), 201);
      }
      const postId = Number(parts[2]);
      if (parts[3] === 'comment') {
        const { owner, comment } = await feed.transaction().execute(async (tx) => {
          const owner = (await q.postOwner(tx, postId))!;
          return { owner, comment: await q.insertComment(tx, postId, me, body.content!) };
        });
        await publish(feedEvents.commented, { postId, postOwner: owner, actor: me, commentId: Number(comment.id) });
        return json(
          { id: Number(comment.id), postId, user: ref(me), content: comment.content, modified: false, createdAt: comment.created_at.toISOString(), reactions: reactions(comment), myReaction: null },
          201,
        );
      }
      if (parts[3] === 'reaction') {
        const type = body.type!;
        const { owner, before } = await feed.transaction().execute(async (tx) => {
          const owner = (await q.postOwner(tx, postId))!;
          return { owner, before: await q.setPostReaction(tx, postId, me, type) };
        });
        if (before !== type) await publish(feedEvents.postReacted, { postId, postOwner: owner, actor: me, type, first: before === undefined });
        return json({}, before === undefined ? 201 : 200);
      }
    }
    return json({ result: 'Not Found', hint: 'not a floor route' }, 404);
  },
});
console.log(`floor listening on ${portArg}`);
