/**
 * A viral post on a busy machine (issue 20): N users (default 500) react to one post, comment on
 * it and change their reaction, all at once — against the same writes spread over N posts, one
 * each — and a burst of posts from every user, 64 in flight. Two CPU burners run beside it the
 * whole time (BENCH_BURNERS=0 for none). Every write must be a 2xx; the bench says how many were
 * not, and checks the post's counts at the end of each wave.
 *
 * Prints, per mode: the wave's time on one post over its time spread (target ≤ 1.25; median of
 * BENCH_REPEATS interleaved pairs), each wave's p99, and the burst's p99 (target ≤ 500 ms).
 *
 *   bun bench/hot-post.ts                 # embedded and split
 *   bun bench/hot-post.ts --split         # or --embedded
 *   BENCH_USERS=200 BENCH_REPEATS=5 bun bench/hot-post.ts
 *
 * Embedded: one process, PGlite. Split: a process per module on Postgres databases bench_hot_*
 * and a nats-server of its own, two feed processes; the writes go to the two in turn, as the
 * proxy in front of them would send them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSplit, prepareDatabases } from '../platform/dev/split.ts';
import { SCALE_PASSWORD, seedAccounts } from '../test/support/seed.ts';
import { dropDatabases, waitForHttp } from './load.ts';
import { benchPort } from './wrk.ts';

// Hundreds of requests in flight from this one process: fetch's default limit is 256.
if (!process.env.BUN_CONFIG_MAX_HTTP_REQUESTS) {
  const child = Bun.spawn(['bun', ...process.argv.slice(1)], { env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: '4096' }, stdio: ['inherit', 'inherit', 'inherit'] });
  process.exit(await child.exited);
}

const USERS = Number(process.env.BENCH_USERS ?? 500);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const BURNERS = Number(process.env.BENCH_BURNERS ?? 2);
const BURST_POSTS = Number(process.env.BENCH_BURST_POSTS ?? 2000);
const pgAdmin = process.env.SPLIT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const root = join(import.meta.dir, '..');
const modes = process.argv.includes('--embedded') ? ['embedded'] : process.argv.includes('--split') ? ['split'] : ['embedded', 'split'];
const MODULES = ['account', 'feed', 'notification', 'stats'];
const json = { 'content-type': 'application/json' };

interface Sent {
  status: number;
  ms: number;
  /** The body of an answer that was not a 2xx. */
  said?: string;
}

/** The system as a client sees it: the account port, and the feed's ports taken in turn. */
class Target {
  private turn = 0;
  constructor(
    readonly account: string,
    private readonly feeds: string[],
  ) {}
  async send(method: string, path: string, token: string, body?: unknown): Promise<Sent & { body: any }> {
    const base = this.feeds[this.turn++ % this.feeds.length]!;
    const started = performance.now();
    try {
      const res = await fetch(`${base}${path}`, { method, headers: { ...json, authorization: `Bearer ${token}` }, body: body === undefined ? undefined : JSON.stringify(body) });
      const text = await res.text();
      const ms = performance.now() - started;
      return { status: res.status, ms, body: text ? JSON.parse(text) : undefined, said: res.ok ? undefined : `${res.status} ${text}` };
    } catch (error) {
      return { status: 0, ms: performance.now() - started, body: undefined, said: String(error) };
    }
  }
}

const p99 = (sent: Sent[]) => {
  const ms = sent.map((s) => s.ms).sort((a, b) => a - b);
  return ms[Math.min(ms.length - 1, Math.floor(0.99 * ms.length))] ?? 0;
};
const failures = (sent: Sent[]) => {
  const failed = sent.filter((s) => s.status < 200 || s.status >= 300);
  const kinds = new Map<string, number>();
  for (const f of failed) kinds.set(f.said!.slice(0, 160), (kinds.get(f.said!.slice(0, 160)) ?? 0) + 1);
  return failed.length === 0 ? '0' : `${failed.length} (${[...kinds].map(([k, n]) => `${n}× ${k}`).join('; ')})`;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Every user reacts and comments at once, then changes the reaction; `postOf(n)` is where user n
 * writes. Returns how long the whole wave took and every answer.
 */
async function wave(target: Target, tokens: string[], postOf: (n: number) => number) {
  const started = performance.now();
  const sent = (
    await Promise.all(
      tokens.map(async (token, n) => {
        const [reacted, commented] = await Promise.all([
          target.send('POST', `/post/${postOf(n)}/reaction`, token, { type: (n % 5) + 1 }),
          target.send('POST', `/post/${postOf(n)}/comment`, token, { content: `comment ${n}` }),
        ]);
        return [reacted, commented, await target.send('POST', `/post/${postOf(n)}/reaction`, token, { type: ((n + 2) % 5) + 1 })];
      }),
    )
  ).flat();
  return { ms: performance.now() - started, sent };
}

async function burst(target: Target, tokens: string[]) {
  const sent: Sent[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      for (let k = next++; k < BURST_POSTS; k = next++) sent.push(await target.send('POST', '/post', tokens[k % tokens.length]!, { content: `burst ${k}` }));
    }),
  );
  return { ms: performance.now() - started, sent };
}

async function run(mode: string): Promise<string[]> {
  const children: ReturnType<typeof Bun.spawn>[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-hot-'));
  const prefix = `bench_hot_${Date.now().toString(36)}`;
  const spawn = (cmd: string[], env: Record<string, string | undefined>) => {
    const c = Bun.spawn(cmd, { env, stdout: 'ignore', stderr: cmd[0] === 'nats-server' ? 'ignore' : 'inherit' });
    children.push(c);
    return c;
  };
  const burners: ReturnType<typeof Bun.spawn>[] = [];
  try {
    let target: Target;
    const secrets = { jwtSecret: randomBytes(48).toString('base64url'), adminId: 'admin', adminPassword: 'hot-post-admin-password' };
    if (mode === 'embedded') {
      await seedAccounts({ dataDir: join(dataDir, 'app') }, USERS + 1);
      const port = await benchPort();
      const env: Record<string, string | undefined> = { ...process.env, MODULES: MODULES.join(','), DATA_DIR: join(dataDir, 'app'), LOG_LEVEL: 'error', JWT_SECRET: secrets.jwtSecret };
      for (const m of MODULES) env[`${m.toUpperCase()}_PORT`] = `${port}`;
      spawn(['bun', join(root, 'platform/main.ts')], env);
      target = new Target(`http://127.0.0.1:${port}`, [`http://127.0.0.1:${port}`]);
    } else {
      const natsPort = await benchPort();
      spawn(['nats-server', '-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', join(dataDir, 'nats')], process.env);
      await prepareDatabases({ pgUrl: pgAdmin, dbPrefix: prefix, modules: MODULES });
      const ports: Record<string, number> = {};
      for (const name of [...MODULES, 'feed-2']) ports[name] = await benchPort();
      const plan = planSplit({ pgUrl: pgAdmin, dbPrefix: prefix, natsUrl: `nats://127.0.0.1:${natsPort}`, modules: MODULES, replicas: { feed: 2 }, ports, minifb: secrets });
      const accountUrl = plan.find((p) => p.module === 'account')!.env.ACCOUNT_DATABASE_URL!;
      await seedAccounts({ url: accountUrl, dataDir }, USERS + 1);
      for (const p of plan) spawn(['bun', join(root, 'platform/main.ts')], { ...process.env, ...p.env, DATA_DIR: dataDir, LOG_LEVEL: 'error', HOST: '127.0.0.1' });
      const feeds = plan.filter((p) => p.module === 'feed').map((p) => `http://127.0.0.1:${p.port}`);
      target = new Target(`http://127.0.0.1:${ports.account}`, feeds);
    }
    for (const base of [target.account]) await waitForHttp(`${base}/openapi.json`, 90000);
    await waitForHttp(`${(target as unknown as { feeds: string[] }).feeds.at(-1)}/openapi.json`, 90000);

    // Every user's token (their password hash is cheap: seedAccounts).
    const tokens: string[] = [];
    for (let n = 1; n <= USERS + 1; n++) {
      const res = await fetch(`${target.account}/auth`, { method: 'POST', headers: json, body: JSON.stringify({ id: `u${n}`, pw: SCALE_PASSWORD }) });
      if (res.status !== 200) throw new Error(`POST /auth answered ${res.status} ${await res.text()}`);
      tokens.push(((await res.json()) as { accessToken: string }).accessToken);
    }
    const owner = tokens.pop()!;
    const newPost = async () => {
      const res = await target.send('POST', '/post', owner, { content: 'a post' });
      if (res.status !== 201) throw new Error(`POST /post answered ${res.status}`);
      return res.body.id as number;
    };

    for (let b = 0; b < BURNERS; b++) burners.push(Bun.spawn(['yes'], { stdout: 'ignore' }));
    // Warm-up: a small wave each way.
    await wave(target, tokens.slice(0, 50), () => 0).catch(() => undefined);

    const pairs: { one: Awaited<ReturnType<typeof wave>>; spread: Awaited<ReturnType<typeof wave>> }[] = [];
    const wrong: string[] = [];
    for (let r = 0; r < REPEATS; r++) {
      const hot = await newPost();
      const own: number[] = [];
      for (let n = 0; n < USERS; n++) own.push(await newPost());
      // In turn which goes first, so that neither always meets what the other left running.
      let one, spread;
      if (r % 2 === 0) {
        one = await wave(target, tokens, () => hot);
        spread = await wave(target, tokens, (n) => own[n]!);
      } else {
        spread = await wave(target, tokens, (n) => own[n]!);
        one = await wave(target, tokens, () => hot);
      }
      pairs.push({ one, spread });
      const seen = (await target.send('GET', `/post/${hot}`, owner)).body;
      const total = Object.values(seen.reactions as Record<string, number>).reduce((a, b) => a + b, 0);
      if (total !== USERS || seen.commentCount !== USERS) wrong.push(`post ${hot}: ${total} reactions, ${seen.commentCount} comments`);
    }
    const bursts = [];
    for (let r = 0; r < REPEATS; r++) bursts.push(await burst(target, tokens));

    const ratios = pairs.map((p) => p.one.ms / p.spread.ms);
    const writes = pairs.flatMap((p) => [...p.one.sent, ...p.spread.sent]);
    const lines = [
      `${mode.padEnd(8)} one post vs spread, ${USERS} users × 3 writes: ${pairs.map((p) => `${(p.one.ms / 1000).toFixed(2)}/${(p.spread.ms / 1000).toFixed(2)} s`).join(', ')}; ratio ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${median(ratios).toFixed(2)}, target ≤ 1.25) ${median(ratios) <= 1.25 ? 'ok' : 'ABOVE'}; p99 one ${median(pairs.map((p) => p99(p.one.sent))).toFixed(0)} ms, spread ${median(pairs.map((p) => p99(p.spread.sent))).toFixed(0)} ms; not 2xx: ${failures(writes)} of ${writes.length}${wrong.length ? `; WRONG COUNTS ${wrong.join('; ')}` : ''}`,
      `${mode.padEnd(8)} burst of ${BURST_POSTS} posts, 64 in flight: p99 ${bursts.map((b) => p99(b.sent).toFixed(0)).join('/')} ms (median ${median(bursts.map((b) => p99(b.sent))).toFixed(0)}, target ≤ 500) ${median(bursts.map((b) => p99(b.sent))) <= 500 ? 'ok' : 'ABOVE'}; ${bursts.map((b) => ((BURST_POSTS / b.ms) * 1000).toFixed(0)).join('/')} posts/s; not 2xx: ${failures(bursts.flatMap((b) => b.sent))}`,
    ];
    for (const l of lines) console.log(l);
    return lines;
  } finally {
    for (const b of burners) b.kill();
    for (const c of children.reverse()) c.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exited));
    rmSync(dataDir, { recursive: true, force: true });
    if (mode === 'split') {
      await dropDatabases(prefix, pgAdmin);
    }
  }
}

const all: string[] = [];
for (const mode of modes) all.push(...(await run(mode)));
console.log(`\nhot post, ${new Date().toISOString().slice(0, 10)}, ${navigator.hardwareConcurrency} CPUs, ${BURNERS} CPU burners beside it, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const l of all) console.log(l);
