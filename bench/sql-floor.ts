/**
 * The SQL floor of minifb's reads: a bare Bun.serve that sends, through `pg` with the pool the
 * modules use (10 connections), the statements the account and feed processes send for a
 * request, and answers the same JSON. What no implementation of those endpoints can beat on the
 * same database (argv: port, account database URL, feed database URL).
 *
 *   GET /me     SELECT the account (what `/me` costs the account process)
 *   GET /post   the page of posts, and the caller's reactions to it (what `/post` costs the feed)
 * The caller is the `sub` of the request's bearer token (or `?id=`).
 */
import pg from 'pg';
import { feedCompiler } from './sql-compiler.ts';
import { myPostReactionsQuery, postsPageQuery } from '../modules/feed/queries.ts';

const [port, accountUrl, feedUrl] = Bun.argv.slice(2);
const int8 = (v: string) => Number(v);
const types = { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === 20 ? int8 : pg.types.getTypeParser(oid, format as 'text'))) as typeof pg.types.getTypeParser };
const accounts = new pg.Pool({ connectionString: accountUrl, max: 10, types });
const feed = new pg.Pool({ connectionString: feedUrl, max: 10, types });
const compiler = feedCompiler;
const page = postsPageQuery(compiler, { limit: 21 }).compile();
const json = (body: unknown) => new Response(JSON.stringify(body), { headers: { 'content-type': 'application/json; charset=utf-8' } });

Bun.serve({
  port: Number(port),
  hostname: '127.0.0.1',
  async fetch(request) {
    const url = new URL(request.url);
    // The caller, from the bearer token's claims (the floor does not check the signature).
    const token = (request.headers.get('authorization') ?? '').slice('Bearer '.length);
    const id = token ? String(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).sub) : (url.searchParams.get('id') ?? '');
    if (url.pathname === '/me') {
      const { rows } = await accounts.query('select * from "account" where "id" = $1', [id]);
      const row = rows[0];
      return json({ id: row.id, name: row.name, nickname: row.nickname, bio: row.bio, createdAt: row.created_at.toISOString() });
    }
    const posts = (await feed.query(page.sql, [...page.parameters])).rows.slice(0, 20);
    const mine = myPostReactionsQuery(compiler, id, posts.map((p) => Number(p.id))).compile();
    const reactions = new Map((await feed.query(mine.sql, [...mine.parameters])).rows.map((r) => [Number(r.post_id), r.type]));
    return json({
      items: posts.map((p) => ({
        id: Number(p.id),
        owner: { id: p.owner_id, name: p.owner_id, nickname: null },
        content: p.content,
        modified: p.modified,
        createdAt: p.created_at.toISOString(),
        reactions: { '1': p.r1, '2': p.r2, '3': p.r3, '4': p.r4, '5': p.r5 },
        myReaction: reactions.get(Number(p.id)) ?? null,
        commentCount: p.comment_count,
      })),
      nextCursor: null,
    });
  },
});
