/**
 * Both products at real sizes in split mode (Postgres per module, a private NATS): how long
 * processes take to answer correctly on a first start (empty buckets) and on a restart, how fast
 * owners publish their snapshots, how much memory each process holds after a load that touches
 * many users, alarm writes while the system restarts, read-your-writes, and the hot reads
 * against their floors (raw Bun.serve on the same bytes; a bare Bun.serve sending the same SQL).
 *
 *   bun bench/scale.ts                        # 1,000,000 users, 10 alarms each, 10,000 items;
 *                                             # 1,000,000 accounts, 10,000,000 posts
 *   bun bench/scale.ts --shop --users=50000   # one product, smaller
 *   bun bench/scale.ts --keep                 # keep the seeded databases …
 *   bun bench/scale.ts --reuse                # … and use them again (seeding 10 M rows takes minutes)
 *
 * Knobs: --users --items --alarms (per user) --accounts --posts --touch (distinct users of the
 * memory load, default 100,000) and BENCH_SECONDS, BENCH_CONNECTIONS for the throughput runs.
 * Databases are `scale_<product>_<module>`; dropped at the end unless --keep.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'nats';
import pg from 'pg';
import { allModules } from '../modules/index.ts';
import { openDatabase } from '../platform/data/db.ts';
import { signJwt } from '../platform/jwt.ts';
import { createLogger } from '../platform/observability/log.ts';
import { cursorOf } from '../platform/pagination.ts';
import { databaseUrl, planSplit, prepareDatabases } from '../platform/dev/split.ts';
import { scaleAlarms, scaleToken, seedMinifb, seedShop } from '../test/support/seed.ts';
import { PrivateNats } from '../test/support/split.ts';
import { fmt, freePort, load, startRawServer, waitForHttp, type LoadResult } from './load.ts';

const arg = (name: string, fallback: number) => {
  const v = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  return v === undefined ? fallback : Number(v.replaceAll('_', ''));
};
const flag = (name: string) => process.argv.includes(`--${name}`);
const sizes = {
  users: arg('users', 1_000_000),
  items: arg('items', 10_000),
  alarmsPerUser: arg('alarms', 10),
  accounts: arg('accounts', 1_000_000),
  posts: arg('posts', 10_000_000),
  touch: arg('touch', 100_000),
};
const seconds = Number(process.env.BENCH_SECONDS ?? 5);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const products = flag('shop') || flag('minifb') ? (['shop', 'minifb'] as const).filter((p) => flag(p)) : (['shop', 'minifb'] as const);
const PG = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const root = join(import.meta.dir, '..');
const work = mkdtempSync(join(tmpdir(), 'scale-'));
const SECRETS = { jwtSecret: 'scale-bench-secret-scale-bench-secret-0123', adminId: 'admin', adminPassword: 'admin-password-1' };
const n = (x: number) => Math.round(x).toLocaleString('en-US');
const s1 = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const results: [string, string][] = [];
const report = (what: string, figure: string) => {
  results.push([what, figure]);
  console.log(`  ${what}: ${figure}`);
};
const pick = (from: number, to: number) => from + Math.floor(Math.random() * (to - from + 1));

/** One process of the split topology, its log in a file. */
class Proc {
  child: ReturnType<typeof Bun.spawn> | undefined;
  startedAt = 0;
  private starts = 0;
  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}
  get log() {
    return join(work, `${this.name}-${this.starts}.log`);
  }
  start() {
    this.starts++;
    this.startedAt = performance.now();
    this.child = Bun.spawn(['bun', join(root, 'platform/main.ts')], {
      env: { ...process.env, ...this.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', DATA_DIR: work },
      stdout: 'ignore',
      stderr: Bun.file(this.log),
    });
  }
  async stop(): Promise<number> {
    const t = performance.now();
    this.child?.kill('SIGTERM');
    const code = await this.child?.exited;
    if (code !== 0) console.log(`  (${this.name} exited with ${code})`);
    this.child = undefined;
    return performance.now() - t;
  }
  rssMb(): number {
    const status = readFileSync(`/proc/${this.child!.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  }
  logLines(msg: string): Record<string, unknown>[] {
    return readFileSync(this.log, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`"msg":"${msg}"`))
      .map((l) => JSON.parse(l));
  }
}

/** Polls `probe` until it holds; the time since `from` (ms), or throws after `ms`. */
async function until(probe: () => Promise<boolean>, from: number, ms: number, what: string): Promise<number> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await probe().catch(() => false)) return performance.now() - from;
    if (performance.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await Bun.sleep(100);
  }
}

async function dropDatabases(prefix: string, modules: string[]) {
  const admin = new pg.Client({ connectionString: PG });
  await admin.connect();
  for (const m of modules) await admin.query(`DROP DATABASE IF EXISTS "${prefix}_${m}" WITH (FORCE)`);
  await admin.end();
}

async function bucketsComplete(natsUrl: string, buckets: string[]): Promise<boolean> {
  const nc = await connect({ servers: natsUrl });
  try {
    for (const b of buckets) {
      const m = await (await nc.jetstream().views.kv(b)).get('_snapshot');
      if (!m || (m.json() as { state: string }).state !== 'complete') return false;
    }
    return true;
  } finally {
    await nc.close();
  }
}

/** Closed-loop requests, `concurrency` at a time, for `ms` or `count` requests; latency and 5xx. */
async function during(limit: { ms?: number; count?: number }, concurrency: number, request: (i: number) => Promise<Response>) {
  const latencies: number[] = [];
  let errors = 0;
  let i = 0;
  const end = performance.now() + (limit.ms ?? Infinity);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end && i < (limit.count ?? Infinity)) {
        const t = performance.now();
        try {
          const res = await request(i++);
          await res.arrayBuffer();
          if (res.status >= 500) errors++;
        } catch {
          errors++;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { count: latencies.length, errors, p50: at(0.5), p99: at(0.99) };
}

/** Raw Bun.serve (or any floor) against the system, interleaved, `repeats` times; the ratios. */
async function against(floor: Parameters<typeof load>[0], system: Parameters<typeof load>[0], repeats = 3) {
  await load({ ...floor, seconds: 1 });
  await load({ ...system, seconds: 1 });
  const runs: { floor: LoadResult; system: LoadResult }[] = [];
  for (let r = 0; r < repeats; r++) runs.push({ floor: await load(floor), system: await load(system) });
  const ratios = runs.map((x) => x.system.rps / x.floor.rps);
  return { runs, ratios, text: `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)} (${runs.map((x) => fmt(x.system).trim().split('  ')[0]).join(', ')} vs floor ${runs.map((x) => n(x.floor.rps)).join(', ')} req/s)` };
}

async function shop() {
  const prefix = 'scale_shop';
  const modules = ['item', 'alarm', 'user'];
  console.log(`\nhomeshopping: ${n(sizes.users)} users, ${n(sizes.users * sizes.alarmsPerUser)} alarms, ${n(sizes.items)} items`);
  if (!flag('reuse')) {
    await dropDatabases(prefix, modules);
    const t = performance.now();
    await prepareDatabases({ pgUrl: PG, dbPrefix: prefix, modules });
    await seedShop(Object.fromEntries(modules.map((m) => [m, databaseUrl(PG, `${prefix}_${m}`)])) as { item: string; alarm: string; user: string }, sizes);
    console.log(`  (seeded in ${s1(performance.now() - t)})`);
  }
  const nats = new PrivateNats();
  await nats.start();
  const ports = { item: freePort(), alarm: freePort(), user: freePort() };
  const procs = planSplit({ pgUrl: PG, dbPrefix: prefix, natsUrl: nats.url, modules, ports }).map((p) => new Proc(p.name, p.port, p.env));
  const [item, alarm, user] = procs as [Proc, Proc, Proc];
  const url = (p: Proc, path = '/') => `http://127.0.0.1:${p.port}${path}`;
  const as = (id: number) => ({ 'USER-TOKEN': scaleToken(id) });
  const json = { 'content-type': 'application/json' };
  const setAlarm = (id: number, itemId: number, method: 'POST' | 'DELETE') =>
    fetch(url(alarm), { method, headers: { ...as(id), ...json }, body: JSON.stringify({ item_id: itemId }) });
  const alarmedIn = async (id: number) =>
    ((await (await fetch(url(item), { headers: as(id) })).json()) as { payload: { id: number; is_alarm_set: boolean }[] }).payload.filter((i) => i.is_alarm_set).map((i) => i.id);
  const probeUsers = Array.from({ length: 20 }, () => pick(51, sizes.users));
  /** Every answer right for a sample of users: alarms on 5001, the alarm list on 6001, /visit on 7001. */
  const correct = async () => {
    for (const id of probeUsers) {
      const expected = scaleAlarms(id, sizes);
      if (JSON.stringify((await alarmedIn(id)).sort((a, b) => a - b)) !== JSON.stringify(expected)) return false;
      const list = (await (await fetch(url(alarm), { headers: as(id) })).json()) as { payload: { id: number }[] };
      if (JSON.stringify(list.payload.map((i) => i.id)) !== JSON.stringify([...expected].reverse())) return false;
      if ((await fetch(url(user, '/visit'), { headers: as(id) })).status !== 200) return false;
    }
    return true;
  };
  try {
    // A first start: the buckets are empty; owners publish while the copies ask them meanwhile.
    const t0 = performance.now();
    for (const p of procs) p.start();
    const cold = await until(correct, t0, 300_000, 'correct answers after a first start');
    const complete = await until(() => bucketsComplete(nats.url, ['items', 'alarms', 'users']), t0, 600_000, 'buckets complete');
    report('first start (empty buckets) → correct answers', s1(cold));
    report('first start → every bucket complete', s1(complete));
    for (const p of procs) for (const l of p.logLines('snapshot published')) report(`snapshot ${l.bucket}`, `${n(l.keys as number)} keys in ${l.seconds} s, ${n(l.keysPerSecond as number)} keys/s`);
    for (const p of procs) for (const l of p.logLines('migration').filter((m) => m.status === 'Success')) console.log(`  (${p.name} migration ${l.migration})`);

    // Read-your-writes at size: a visit, an alarm, then the next reads on two other processes.
    let misses = 0;
    const writes: number[] = [];
    for (let i = 0; i < 100; i++) {
      const id = pick(51, sizes.users);
      const itemId = pick(1, sizes.items);
      await (await fetch(url(item, `/${itemId}`), { headers: as(id) })).arrayBuffer();
      const t = performance.now();
      const res = await setAlarm(id, itemId, 'POST');
      writes.push(performance.now() - t);
      if (res.status !== 201) throw new Error(`alarm POST answered ${res.status} ${await res.text()}`);
      const listed = (await alarmedIn(id)).includes(itemId);
      const visit = ((await (await fetch(url(user, '/visit'), { headers: as(id) })).json()) as { payload: { id: number; is_alarm_set: boolean }[] }).payload;
      if (!listed || !visit.find((v) => v.id === itemId)?.is_alarm_set) misses++;
      await setAlarm(id, itemId, 'DELETE');
    }
    writes.sort((a, b) => a - b);
    report('read-your-writes (alarm POST → item GET / and /visit)', `${100 - misses}/100; alarm POST p50 ${writes[50]!.toFixed(1)} ms, p99 ${writes[98]!.toFixed(1)} ms`);

    // GET / against raw Bun.serve sending the same bytes (a user with alarms; users in turn).
    const someone = pick(51, sizes.users);
    const body = await (await fetch(url(item), { headers: as(someone) })).text();
    const { child: raw, url: rawUrl } = await startRawServer({ body, file: join(work, 'body.json'), stdout: 'ignore' });
    const turns = Array.from({ length: 1000 }, () => as(pick(51, sizes.users)));
    const list = await against(
      { url: rawUrl, connections, seconds },
      { url: url(item), headers: (i) => turns[i % turns.length]!, connections, seconds },
    );
    raw.kill();
    report(`GET / on 5001 vs raw Bun.serve (${n(body.length)} bytes, ${connections} connections)`, list.text);

    // Memory after a mixed load touching many distinct users.
    await during({ count: sizes.touch }, 32, async (i) => {
      const id = 51 + ((i * 7919) % (sizes.users - 51));
      if (i % 10 === 0) return fetch(url(user, '/visit'), { headers: as(id) });
      if (i % 10 === 1) return fetch(url(alarm), { headers: as(id) });
      return fetch(url(item, `/${1 + (i % sizes.items)}`), { headers: as(id) });
    });
    report(`RSS after ${n(sizes.touch)} distinct users`, procs.map((p) => `${p.name} ${p.rssMb().toFixed(0)} MB`).join(', '));

    // A restart of every process: nothing is published again; writes meanwhile.
    const exits = await Promise.all(procs.map((p) => p.stop()));
    report('SIGTERM → exit', procs.map((p, i) => `${p.name} ${(exits[i]! / 1000).toFixed(1)} s`).join(', '));
    const t1 = performance.now();
    for (const p of procs) p.start();
    const writing = (async () => {
      await waitForHttp(url(alarm), 60_000);
      let k = 0;
      return during({ ms: 60_000 - (performance.now() - t1) }, 8, () => {
        const id = 51 + (k++ % 5000);
        return setAlarm(id, 1 + (id % sizes.items), k % 2 ? 'POST' : 'DELETE');
      });
    })();
    const warm = await until(correct, t1, 120_000, 'correct answers after a restart');
    report('restart (buckets full) → correct answers', s1(warm));
    report('restart → processes started', procs.map((p) => `${p.name} ${s1(Number(p.logLines('started')[0]?.ms ?? NaN))}`).join(', '));
    const w = await writing;
    report('alarm POST/DELETE during the first 60 s after the restart', `${n(w.count)} writes, p50 ${w.p50.toFixed(1)} ms, p99 ${w.p99.toFixed(1)} ms, 5xx ${w.errors}`);
    const republished = procs.flatMap((p) => p.logLines('publishing a snapshot'));
    report('snapshots published again after the restart', `${republished.length}`);
    for (const p of procs) await p.stop();
  } finally {
    for (const p of procs) if (p.child) await p.stop();
    await nats.destroy();
    if (!flag('keep')) await dropDatabases(prefix, modules);
  }
}

async function minifb() {
  const prefix = 'scale_fb';
  const modules = ['account', 'feed', 'notification', 'stats'];
  console.log(`\nminifb: ${n(sizes.accounts)} accounts, ${n(sizes.posts)} posts`);
  const urls = Object.fromEntries(modules.map((m) => [m, databaseUrl(PG, `${prefix}_${m}`)])) as Record<string, string>;
  if (!flag('reuse')) {
    await dropDatabases(prefix, modules);
    const t = performance.now();
    await prepareDatabases({ pgUrl: PG, dbPrefix: prefix, modules });
    // The modules' migrations make the schema; then the rows go in.
    for (const m of ['account', 'feed']) {
      const def = allModules.find((d) => d.name === m)!;
      const database = await openDatabase({ module: m, url: urls[m], dataDir: work, migrations: def.migrations, log: createLogger({ bench: 'scale' }) });
      await database.close();
    }
    await seedMinifb({ account: urls.account!, feed: urls.feed! }, sizes);
    console.log(`  (seeded in ${s1(performance.now() - t)})`);
  }
  const nats = new PrivateNats();
  await nats.start();
  const ports = Object.fromEntries(modules.map((m) => [m, freePort()]));
  const procs = planSplit({ pgUrl: PG, dbPrefix: prefix, natsUrl: nats.url, modules, ports, minifb: SECRETS }).map((p) => new Proc(p.name, p.port, p.env));
  const [account, feed] = procs as [Proc, Proc, Proc, Proc];
  /** Tokens signed ahead (signing is async): every account's, made once. */
  const signed = new Map<number, string>();
  const bearer = (i: number) => ({ authorization: `Bearer ${signed.get(i)}` });
  for (let i = 1; i <= sizes.accounts; i++) signed.set(i, await signJwt({ sub: `u${i}`, typ: 'access', ver: 0 }, SECRETS.jwtSecret, 3600));
  const url = (p: Proc, path: string) => `http://127.0.0.1:${p.port}${path}`;
  /** A page of posts with every owner's name: the feed's copy of accounts answers. */
  const correct = async () => {
    for (let k = 0; k < 10; k++) {
      const reader = pick(1, sizes.accounts);
      const res = await fetch(url(feed, '/post?limit=20'), { headers: bearer(reader) });
      if (res.status !== 200) return false;
      const page = (await res.json()) as { items: { owner: { id: string; name: string } }[] };
      if (!page.items.every((p) => p.owner.name === `User ${p.owner.id.slice(1)}` || p.owner.id === SECRETS.adminId)) return false;
    }
    return true;
  };
  const floorPort = freePort();
  let floor: ReturnType<typeof Bun.spawn> | undefined;
  try {
    const t0 = performance.now();
    for (const p of procs) p.start();
    const cold = await until(correct, t0, 300_000, 'correct pages after a first start');
    report('first start (empty buckets) → correct pages with owner names', s1(cold));
    const complete = await until(() => bucketsComplete(nats.url, ['accounts']), t0, 600_000, 'accounts complete');
    report('first start → accounts bucket complete', s1(complete));
    for (const l of account.logLines('snapshot published')) report('snapshot accounts', `${n(l.keys as number)} keys in ${l.seconds} s, ${n(l.keysPerSecond as number)} keys/s`);

    // The hot reads against their SQL floor, users in turn.
    floor = Bun.spawn(['bun', join(import.meta.dir, 'sql-floor.ts'), `${floorPort}`, urls.account!, urls.feed!], { stdout: 'ignore', stderr: 'inherit' });
    await waitForHttp(`http://127.0.0.1:${floorPort}/me?id=u1`);
    const readers = Array.from({ length: 1000 }, () => pick(1, sizes.accounts));
    const me = await against(
      { url: `http://127.0.0.1:${floorPort}/me`, headers: (i) => bearer(readers[i % readers.length]!), connections, seconds },
      { url: url(account, '/me'), headers: (i) => bearer(readers[i % readers.length]!), connections, seconds },
    );
    report('GET /me vs its SQL floor', me.text);
    const posts = await against(
      { url: `http://127.0.0.1:${floorPort}/post`, headers: (i) => bearer(readers[i % readers.length]!), connections, seconds },
      { url: url(feed, '/post?limit=20'), headers: (i) => bearer(readers[i % readers.length]!), connections, seconds },
    );
    report('GET /post vs its SQL floor', posts.text);

    // A deep page costs what the first does.
    const deep = cursorOf('post', Math.floor(sizes.posts * 0.1));
    const first = await load({ url: url(feed, '/post?limit=20'), headers: bearer(7), connections: 16, seconds });
    const deepRun = await load({ url: url(feed, `/post?limit=20&cursor=${deep}`), headers: bearer(7), connections: 16, seconds });
    report(`GET /post deep page (90 % deep) / first page p99`, `${(deepRun.p99 / first.p99).toFixed(2)} (${deepRun.p99.toFixed(1)} / ${first.p99.toFixed(1)} ms)`);

    // Memory after a load touching many distinct readers (their accounts and the pages' owners).
    await during({ count: sizes.touch }, 32, async (i) => {
      const reader = 1 + ((i * 7919) % sizes.accounts);
      return fetch(url(feed, i % 2 ? '/post?limit=20' : `/timeline/u${reader}`), { headers: bearer(reader) });
    });
    report(`RSS after ${n(sizes.touch)} distinct readers`, procs.map((p) => `${p.name} ${p.rssMb().toFixed(0)} MB`).join(', '));

    const exits = await Promise.all(procs.map((p) => p.stop()));
    report('SIGTERM → exit', procs.map((p, i) => `${p.name} ${(exits[i]! / 1000).toFixed(1)} s`).join(', '));
    const t1 = performance.now();
    for (const p of procs) p.start();
    const warm = await until(correct, t1, 120_000, 'correct pages after a restart');
    report('restart (buckets full) → correct pages', s1(warm));
    report('snapshots published again after the restart', `${procs.flatMap((p) => p.logLines('publishing a snapshot')).length}`);
  } finally {
    floor?.kill();
    for (const p of procs) if (p.child) await p.stop();
    await nats.destroy();
    if (!flag('keep')) await dropDatabases(prefix, modules);
  }
}

try {
  if (products.includes('shop')) await shop();
  if (products.includes('minifb')) await minifb();
  console.log('\n| what | figure |\n|---|---|');
  for (const [what, figure] of results) console.log(`| ${what} | ${figure} |`);
} finally {
  if (flag('keep')) console.log(`logs kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
