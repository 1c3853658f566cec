/**
 * Data at real sizes, made by the database itself (INSERT … SELECT generate_series), for the
 * scale tests and `bench/scale.ts`. Everything is a function of a row number, so a test knows
 * any user's token or alarms without reading them back.
 *
 * Homeshopping: users 51..N join the project's 50 (tokens `scaleToken(id)`), items 101..N join
 * its 100, every user 1..N gets `alarmsPerUser` alarms (`scaleAlarms(id)`). Loaded into
 * databases that hold init_database.sql and nothing else yet — as a large kit would be — so the
 * first start runs the migrations over them.
 *
 * minifb: accounts `u1`..`uN` (password `SCALE_PASSWORD`, one hash for all), posts 1..P owned in
 * turn by them, one a second back from now.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { migrations as accountMigrations } from '../../modules/account/migrations.ts';
import { hashPassword } from '../../modules/account/password.ts';
import { openDatabase } from '../../platform/data/db.ts';
import type { Logger } from '../../platform/observability/log.ts';

const quietLog: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quietLog };

export const SCALE_PASSWORD = 'scale-password';

/** The access token of homeshopping user `id` (the project's own for ids up to 50). */
export function scaleToken(id: number): string {
  const hex = new Bun.CryptoHasher('md5').update(`moa-scale-${id}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The item ids user `id` has alarms on, ascending. */
export function scaleAlarms(id: number, sizes: { items: number; alarmsPerUser: number }): number[] {
  return Array.from({ length: sizes.alarmsPerUser }, (_, k) => 1 + ((id * 131 + k * 997) % sizes.items)).sort((a, b) => a - b);
}

async function run(url: string, statements: string[], params: unknown[][] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET statement_timeout = 0');
    for (const [i, s] of statements.entries()) await client.query(s, params[i] ?? []);
  } finally {
    await client.end();
  }
}

export async function seedShop(urls: { item: string; alarm: string; user: string }, sizes: { users: number; items: number; alarmsPerUser: number }) {
  await Promise.all([
    run(urls.user, [
      `INSERT INTO "user" (id, name, access_token)
       SELECT g, 'user ' || g, uuid_in(md5('moa-scale-' || g)::cstring)::text FROM generate_series(51, ${sizes.users}) g`,
    ]),
    run(urls.item, [
      `INSERT INTO item (id, name, broadcaster, category, price)
       SELECT g, 'item ' || g, (ARRAY['cjmall', 'gsshop', 'nsmall'])[1 + g % 3], CASE WHEN g % 10 = 0 THEN NULL ELSE '패션·잡화' END, (g * 37) % 100000
       FROM generate_series(101, ${sizes.items}) g`,
    ]),
    run(urls.alarm, [
      `INSERT INTO alarm (item_id, user_id, created)
       SELECT 1 + ((u * 131 + k * 997) % ${sizes.items}), u, now()
       FROM generate_series(1, ${sizes.users}) u, generate_series(0, ${sizes.alarmsPerUser - 1}) k`,
      'ANALYZE alarm',
    ]),
  ]);
}

/** Seeds minifb databases the modules have migrated (start them once first). */
export async function seedMinifb(urls: { account: string; feed: string }, sizes: { accounts: number; posts: number }) {
  const hash = await hashPassword(SCALE_PASSWORD, 1000);
  await Promise.all([
    run(
      urls.account,
      [`INSERT INTO account (id, password_hash, name) SELECT 'u' || g, $1, 'User ' || g FROM generate_series(1, ${sizes.accounts}) g ON CONFLICT DO NOTHING`, 'ANALYZE account'],
      [[hash]],
    ),
    run(urls.feed, [
      `INSERT INTO post (owner_id, content, created_at)
       SELECT 'u' || (1 + g % ${sizes.accounts}), 'post number ' || g, now() - make_interval(secs => ${sizes.posts} - g) FROM generate_series(1, ${sizes.posts}) g`,
      `UPDATE feed_counter SET value = value + ${sizes.posts} WHERE name = 'posts'`,
      'ANALYZE post',
    ]),
  ]);
}

/**
 * minifb accounts `u1`..`uN` (password SCALE_PASSWORD, one cheap hash for all) in the account
 * database a system is about to start on — embedded (`url` undefined: the PGlite database under
 * `dataDir`) or Postgres — as if they had signed up earlier: the owner's start publishes them.
 * A crowd of users in seconds, where signing each up through the API hashes for a quarter second.
 */
export async function seedAccounts(target: { url?: string; dataDir: string }, count: number) {
  const hash = await hashPassword(SCALE_PASSWORD, 1000);
  const database = await openDatabase({ module: 'account', url: target.url, dataDir: target.dataDir, migrations: accountMigrations, log: quietLog });
  try {
    await sql`INSERT INTO account (id, password_hash, name) SELECT 'u' || g, ${hash}, 'User ' || g FROM generate_series(1, ${count}::int) g ON CONFLICT DO NOTHING`.execute(database.background);
  } finally {
    await database.close();
  }
}
