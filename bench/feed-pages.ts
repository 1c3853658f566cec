/**
 * First page against a deep page (issue 5): p50/p99 of `GET /post` and `GET /timeline/<user>`
 * on a feed of 1,000,000 posts, first page and a page ~90 % deep, on real Postgres and on the
 * embedded mode (PGlite). Pages are keyset ranges of an index, so the deep page should cost what
 * the first does: target deep/first p99 ≤ 1.5. A raw `Bun.serve` answering the first page's body
 * is measured in the same run, as the usual baseline.
 *
 * Per backend: minifb starts once in a child process (migrations run), a reader signs up, it
 * stops; 1000 authors go into the account database and the posts into the feed's with one
 * `INSERT … SELECT generate_series` per 100,000 rows (author0000 writes every tenth post, the
 * other 999 share the rest); minifb starts again and is measured over HTTP. `EXPLAIN ANALYZE` of
 * the two deep-page queries (the SQL the feed sends) shows that they are index scans, no Sort.
 * Databases (`feedbench_<time>_<module>`) and data directories are removed at the end.
 *
 *   bun bench/feed-pages.ts                          # Postgres at 127.0.0.1:5432, then PGlite
 *   bun bench/feed-pages.ts --backend=pglite --posts=200000
 *   BENCH_SECONDS=10 BENCH_CONNECTIONS=32 bun bench/feed-pages.ts --backend=pg
 */
import { PGlite } from '@electric-sql/pglite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { postsPageQuery } from '../modules/feed/queries.ts';
import { cursorOf } from '../platform/pagination.ts';
import { feedCompiler } from './sql-compiler.ts';
import { fmt, freePort, load, startRawServer, waitForHttp, type LoadResult } from './load.ts';

type Backend = 'pg' | 'pglite';
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const backends: Backend[] = arg('backend') === undefined ? ['pg', 'pglite'] : [arg('backend') as Backend];
if (!backends.every((b) => b === 'pg' || b === 'pglite')) throw new Error('--backend must be pg or pglite');
const posts = Number(arg('posts') ?? 1_000_000);
if (!Number.isSafeInteger(posts) || posts < 1000) throw new Error('--posts must be an integer of at least 1000');
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 16);
const PG_ADMIN_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const MODULES = ['account', 'feed', 'notification', 'stats'];
const AUTHORS = 1000;
const BUSY = 'author0000';
const CHUNK = 100_000;
const reader = { id: 'reader', pw: 'reader-password-1', name: 'Reader' };
const compiler = feedCompiler;
/** Matches no password: the authors never log in. */
const NO_PASSWORD = `pbkdf2:sha256:600000$benchbenchbench0$${'0'.repeat(64)}`;
const root = join(import.meta.dir, '..');
const n = (x: number) => x.toLocaleString('en-US');

/** One database, the same way for both backends. */
interface Sql {
  query(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

async function pgSql(url: string): Promise<Sql> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return { query: async (text, params) => (await client.query(text, params)).rows, close: () => client.end() };
}

async function pgliteSql(dir: string): Promise<Sql> {
  const db = new PGlite(dir);
  await db.waitReady;
  return { query: async (text, params) => (await db.query<Record<string, unknown>>(text, params)).rows, close: () => db.close() };
}

const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function run(backend: Backend) {
  const dataDir = mkdtempSync(join(tmpdir(), `feed-pages-${backend}-`));
  const prefix = `feedbench_${Date.now()}`;
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const dbUrl = (module: string) => `postgres://postgres@127.0.0.1:5432/${prefix}_${module}`;
  const env: Record<string, string | undefined> = {
    ...process.env,
    MODULES: MODULES.join(','),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ...Object.fromEntries(MODULES.map((m) => [`${m.toUpperCase()}_PORT`, `${port}`])),
  };
  let child: ReturnType<typeof Bun.spawn> | undefined;
  const open: Sql[] = [];
  const start = async () => {
    child = Bun.spawn(['bun', join(root, 'platform/main.ts')], { env, stdout: 'inherit', stderr: 'inherit' });
    await waitForHttp(`${base}/me`, 120000);
  };
  const stop = async () => {
    child?.kill('SIGTERM');
    const code = await child?.exited;
    child = undefined;
    if (code !== 0) throw new Error(`minifb exited with ${code}`);
  };
  const connect = async (module: string) => {
    const sql = backend === 'pg' ? await pgSql(dbUrl(module)) : await pgliteSql(join(dataDir, module));
    open.push(sql);
    return sql;
  };
  const close = async (sql: Sql) => {
    open.splice(open.indexOf(sql), 1);
    await sql.close();
  };

  try {
    if (backend === 'pg') {
      const admin = await pgSql(PG_ADMIN_URL);
      for (const m of MODULES) await admin.query(`CREATE DATABASE "${prefix}_${m}"`);
      await admin.close();
      for (const m of MODULES) env[`${m.toUpperCase()}_DATABASE_URL`] = dbUrl(m);
    }

    // First start: migrations make the schema; the reader signs up through the API.
    await start();
    const signup = await fetch(`${base}/signup`, json(reader));
    if (signup.status !== 201) throw new Error(`POST /signup answered ${signup.status} ${await signup.text()}`);
    await stop();

    // Seed while minifb is stopped (a PGlite directory has one user at a time).
    const accounts = await connect('account');
    await accounts.query(
      `INSERT INTO account (id, password_hash, name)
       SELECT 'author' || lpad(g::text, 4, '0'), $1, 'Author ' || g FROM generate_series(0, ${AUTHORS - 1}) g`,
      [NO_PASSWORD],
    );
    await close(accounts);

    const feed = await connect('feed');
    const seedStarted = performance.now();
    for (let from = 1; from <= posts; from += CHUNK) {
      const to = Math.min(posts, from + CHUNK - 1);
      // Ids follow g (identity, one statement in g order); created_at one second apart, newest last.
      await feed.query(
        `INSERT INTO post (owner_id, content, created_at)
         SELECT CASE WHEN g % 10 = 0 THEN '${BUSY}' ELSE 'author' || lpad((1 + g % ${AUTHORS - 1})::text, 4, '0') END,
                'Seeded post ' || g || ': ' || repeat('lorem ipsum ', 8),
                now() - make_interval(secs => ${posts} - g)
         FROM generate_series(${from}, ${to}) g ORDER BY g`,
      );
      console.log(`  ${backend}: ${n(to)} posts inserted, ${((performance.now() - seedStarted) / 1000).toFixed(1)} s`);
    }
    await feed.query(`UPDATE feed_counter SET value = value + ${posts} WHERE name = 'posts'`);
    const inserted = (performance.now() - seedStarted) / 1000;
    await feed.query('VACUUM ANALYZE post');
    const seeded = (performance.now() - seedStarted) / 1000;

    // Where the deep pages start: the cursor is the id of the last row of the page before.
    const one = async (text: string, params?: unknown[]) => Number(Object.values((await feed.query(text, params))[0]!)[0]);
    const newest = await one('SELECT max(id) FROM post');
    const deep = Math.round(posts * 0.9);
    const deepAfter = await one(`SELECT id FROM post ORDER BY id DESC OFFSET ${deep - 1} LIMIT 1`);
    const busyPosts = await one('SELECT count(*) FROM post WHERE owner_id = $1', [BUSY]);
    const timelineDeep = Math.round(busyPosts * 0.9);
    const timelineAfter = await one(`SELECT id FROM post WHERE owner_id = $1 ORDER BY id DESC OFFSET ${timelineDeep - 1} LIMIT 1`, [BUSY]);

    // The SQL the feed sends for these pages (modules/feed/queries.ts, limit + 1), compiled here.
    const sqlOf = (q: { compile(): { sql: string; parameters: readonly unknown[] } }): [string, unknown[]] => {
      const { sql, parameters } = q.compile();
      return [sql, [...parameters]];
    };
    const plans: [string, string, unknown[]][] = [
      ['/post deep page', ...sqlOf(postsPageQuery(compiler, { before: deepAfter, limit: 21 }))],
      ['/timeline deep page', ...sqlOf(postsPageQuery(compiler, { ownerId: BUSY, before: timelineAfter, limit: 21 }))],
    ];
    const explained: string[] = [];
    for (const [what, text, params] of plans) {
      const lines = (await feed.query(`EXPLAIN ANALYZE ${text}`, params)).map((r) => String(r['QUERY PLAN']));
      const sorted = lines.some((l) => /\bSort\b/.test(l));
      // PGlite (Postgres 18) adds buffer and index-search counts by default: left out, as on Postgres 15.
      const shown = lines.filter((l) => !/^(Planning|Execution) Time|^\s*(Buffers:|Planning:|Index Searches:)/.test(l)).map((l) => `  ${l}`);
      const time = lines.filter((l) => /^(Planning|Execution) Time/.test(l)).join(', ');
      explained.push([`EXPLAIN ANALYZE, ${what}: ${sorted ? 'a Sort in the plan!' : 'no Sort'}; ${time}`, ...shown].join('\n'));
    }
    await close(feed);

    // Second start: measure over HTTP.
    await start();
    const auth = await fetch(`${base}/auth`, json({ id: reader.id, pw: reader.pw }));
    if (auth.status !== 200) throw new Error(`POST /auth answered ${auth.status} ${await auth.text()}`);
    const headers = { authorization: `Bearer ${((await auth.json()) as { accessToken: string }).accessToken}` };
    const pages = [
      { label: 'GET /post, first page', url: `${base}/post?limit=20` },
      { label: `GET /post, ${n(deep)} deep`, url: `${base}/post?limit=20&cursor=${cursorOf('post', deepAfter)}` },
      { label: `GET /timeline/${BUSY}, first page`, url: `${base}/timeline/${BUSY}?limit=20` },
      { label: `GET /timeline/${BUSY}, ${n(timelineDeep)} deep`, url: `${base}/timeline/${BUSY}?limit=20&cursor=${cursorOf('post', timelineAfter)}` },
    ];
    // Each page is what it should be: 20 posts of the right owners, below the cursor, names known.
    let firstBody = '';
    for (const [i, page] of pages.entries()) {
      const res = await fetch(page.url, { headers });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`${page.label} answered ${res.status} ${text}`);
      const body = JSON.parse(text) as { items: { id: number; owner: { id: string; name: string } }[]; nextCursor: string | null };
      const limit = [newest + 1, deepAfter, newest + 1, timelineAfter][i]!;
      const ok =
        body.items.length === 20 &&
        body.nextCursor !== null &&
        body.items.every((p) => p.id < limit && p.owner.name.startsWith('Author')) &&
        (i < 2 || body.items.every((p) => p.owner.id === BUSY)) &&
        (i % 2 === 1 || body.items[0]!.id === (i === 0 ? newest : Math.floor(newest / 10) * 10));
      if (!ok) throw new Error(`${page.label} is not the expected page: ${text.slice(0, 300)}`);
      if (i === 0) firstBody = text;
    }
    const { child: raw, url: rawUrl } = await startRawServer({ body: firstBody, file: join(dataDir, 'first-page.json') });
    const results: LoadResult[] = [];
    let rawResult: LoadResult;
    try {
      await load({ url: rawUrl, connections, seconds: 1 });
      for (const page of pages) await load({ url: page.url, headers, connections, seconds: 1 });
      rawResult = await load({ url: rawUrl, connections, seconds });
      for (const page of pages) results.push(await load({ url: page.url, headers, connections, seconds }));
    } finally {
      raw.kill('SIGTERM');
      await raw.exited;
    }

    const [first, deepPage, tFirst, tDeep] = results as [LoadResult, LoadResult, LoadResult, LoadResult];
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    const title = backend === 'pg' ? 'Postgres 15 (pg, 127.0.0.1)' : 'embedded (PGlite)';
    console.log(
      `\nfeed pages, ${title}: ${n(posts)} posts (${BUSY}: ${n(busyPosts)}), limit 20, ${connections} connections, ${seconds} s each`,
    );
    console.log(`seeded in ${seeded.toFixed(1)} s (INSERT … generate_series ${inserted.toFixed(1)} s, VACUUM ANALYZE ${(seeded - inserted).toFixed(1)} s)`);
    console.log(`${'raw Bun.serve (first page body)'.padEnd(44)}${fmt(rawResult)}`);
    for (const [i, page] of pages.entries()) console.log(`${page.label.padEnd(44)}${fmt(results[i]!)}`);
    console.log(`deep / first p99: /post ×${ratio(deepPage.p99, first.p99)}  /timeline ×${ratio(tDeep.p99, tFirst.p99)}   (target ≤ 1.5)`);
    console.log(`deep / first p50: /post ×${ratio(deepPage.p50, first.p50)}  /timeline ×${ratio(tDeep.p50, tFirst.p50)}`);
    console.log(`first page / raw: p99 ×${ratio(first.p99, rawResult.p99)}  req/s ×${ratio(first.rps, rawResult.rps)}`);
    for (const line of explained) console.log(line);
  } finally {
    if (child) {
      child.kill('SIGTERM');
      await child.exited;
    }
    for (const sql of open) await sql.close().catch(() => {});
    rmSync(dataDir, { recursive: true, force: true });
    if (backend === 'pg') {
      const admin = await pgSql(PG_ADMIN_URL);
      for (const m of MODULES) await admin.query(`DROP DATABASE IF EXISTS "${prefix}_${m}" WITH (FORCE)`);
      await admin.close();
    }
  }
}

for (const backend of backends) await run(backend);
