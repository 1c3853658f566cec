/**
 * `GET /{item_id}` on the item service in split mode — every request records a durable visit
 * (item → ITEM_EVENTS → the user process's database) — against raw Bun.serve sending the same
 * bytes, both driven by wrk, interleaved (raw, item, raw, item, …), 3 repeats. Also prints the
 * CPU each process spent per visit (item, user, NATS: where a visit's cost goes), and checks at
 * the end that every visit answered 200 is stored in the user database.
 *
 *   bun bench/item-visit.ts
 *   BENCH_SECONDS=10 BENCH_CONNECTIONS=64 BENCH_REPEATS=3 bun bench/item-visit.ts
 *   BENCH_NATS_SERVER=/path/to/nats-server BENCH_NATS_SYNC=always bun bench/item-visit.ts
 *
 * The system runs as operated: request lines at info (BENCH_LOG_LEVEL to change it), metrics on,
 * tracing off; each process's stderr goes to a file, whose last warnings are printed at the end.
 *
 * Its own nats-server (a port in BENCH_PORTS, a temporary store) and databases bench_visit_*, all
 * removed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { planSplit, prepareDatabases } from '../platform/dev/split.ts';
import { dropDatabases, fmt, loadAverage, startRawServer, systemLog, waitForHttp, type LoadResult } from './load.ts';
import { benchPort, cpuSeconds, wrk, type WrkRequest } from './wrk.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const pgAdmin = process.env.SPLIT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const token = '4a49145e-45a8-4845-af45-1af2a59bb044';
const root = join(import.meta.dir, '..');
const dataDir = mkdtempSync(join(tmpdir(), 'bench-visit-'));
const storeDir = mkdtempSync(join(tmpdir(), 'bench-visit-nats-'));
const prefix = `bench_visit_${Date.now().toString(36)}`;
const modules = ['item', 'alarm', 'user'];
const children: ReturnType<typeof Bun.spawn>[] = [];

try {
  const natsPort = await benchPort();
  // BENCH_NATS_SYNC=always: the stream syncs every message before acknowledging it, as compose
  // runs it (needs nats-server 2.10 or later: BENCH_NATS_SERVER=/path/to/nats-server).
  const conf = join(dataDir, 'nats.conf');
  await Bun.write(conf, `jetstream {\n  store_dir: ${storeDir}\n${process.env.BENCH_NATS_SYNC ? `  sync_interval: ${process.env.BENCH_NATS_SYNC}\n` : ''}}\n`);
  const natsServer = process.env.BENCH_NATS_SERVER ?? 'nats-server';
  const nats = Bun.spawn([natsServer, '-c', conf, '-a', '127.0.0.1', '-p', String(natsPort)], { stdout: 'ignore', stderr: 'ignore' });
  children.push(nats);
  await prepareDatabases({ pgUrl: pgAdmin, dbPrefix: prefix, modules });
  const ports: Record<string, number> = {};
  for (const m of modules) ports[m] = await benchPort();
  const procs: Record<string, ReturnType<typeof Bun.spawn>> = {};
  for (const p of planSplit({ pgUrl: pgAdmin, dbPrefix: prefix, natsUrl: `nats://127.0.0.1:${natsPort}`, modules, ports })) {
    procs[p.module] = Bun.spawn(['bun', join(root, 'platform/main.ts')], {
      env: { ...process.env, ...p.env, DATA_DIR: dataDir, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info', HOST: '127.0.0.1' },
      stdout: 'inherit',
      stderr: Bun.file(join(dataDir, `${p.module}.log`)),
    });
    children.push(procs[p.module]!);
  }
  const base = (m: string) => `http://127.0.0.1:${ports[m]}`;
  for (const m of modules) await waitForHttp(`${base(m)}/openapi.json`, 60000);
  const users = ((await (await fetch(`${base('user')}/`, { headers: { 'USER-TOKEN': token } })).json()) as { payload: { id: number; access_token: string }[] }).payload;
  // 50 users in turn, each over its own walk of the 100 items.
  const requests: WrkRequest[] = Array.from({ length: 500 }, (_, k) => ({ path: `/${((k * 37) % 100) + 1}`, headers: { 'USER-TOKEN': users[k % users.length]!.access_token } }));
  const body = await (await fetch(`${base('item')}/1`, { headers: { 'USER-TOKEN': token } })).text();
  if (!body.includes('"payload"')) throw new Error(`GET /1 answered ${body}`);
  const rawServer = await startRawServer({ body, file: join(dataDir, 'body.json'), port: await benchPort() });
  children.push(rawServer.child);
  const rawBase = `http://127.0.0.1:${rawServer.port}`;

  let answered = 0;
  const visit = async (s: number) => {
    const r = await wrk({ base: base('item'), requests, connections, seconds: s });
    answered += r.requests - r.non2xx;
    return r;
  };
  await wrk({ base: rawBase, requests, connections, seconds: 2 });
  await visit(2);

  const rows: { raw: LoadResult; item: LoadResult; cpu: Record<string, number> }[] = [];
  for (let i = 0; i < repeats; i++) {
    const raw = await wrk({ base: rawBase, requests, connections, seconds });
    const pids = { item: procs.item!.pid, user: procs.user!.pid, nats: nats.pid };
    const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, cpuSeconds(pid)]));
    const item = await visit(seconds);
    const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, ((cpuSeconds(pid) - before[k]!) * 1000) / Math.max(1, item.requests)]));
    rows.push({ raw, item, cpu });
  }

  // Every visit answered 200 must be in the user database (more may be: requests wrk cut off).
  const userDb = new pg.Client({ connectionString: planSplit({ pgUrl: pgAdmin, dbPrefix: prefix, natsUrl: '', modules: ['user'] })[0]!.env.USER_DATABASE_URL });
  await userDb.connect();
  const deadline = Date.now() + 60_000;
  let stored = 0;
  for (;;) {
    stored = (await userDb.query('SELECT count(*)::int AS n FROM visit')).rows[0].n;
    if (stored >= answered || Date.now() > deadline) break;
    await Bun.sleep(200);
  }
  await userDb.end();

  console.log(`GET /{item_id} (records a visit), split mode (Postgres, NATS), wrk ${connections} connections, 50 users × 100 items in turn, ${seconds} s each, body ${body.length} bytes, log level ${process.env.BENCH_LOG_LEVEL ?? 'info'}, ${natsServer}${process.env.BENCH_NATS_SYNC ? ` (sync_interval: ${process.env.BENCH_NATS_SYNC})` : ''}, ${loadAverage()}`);
  for (const [i, r] of rows.entries()) {
    console.log(`#${i + 1} raw Bun.serve  ${fmt(r.raw)}`);
    console.log(`#${i + 1} item service   ${fmt(r.item)}   ratio ${(r.item.rps / r.raw.rps).toFixed(3)}`);
    console.log(`   CPU per visit: item ${r.cpu.item!.toFixed(3)} ms, user ${r.cpu.user!.toFixed(3)} ms, NATS ${r.cpu.nats!.toFixed(3)} ms`);
  }
  const ratios = rows.map((r) => r.item.rps / r.raw.rps).sort((a, b) => a - b);
  console.log(`ratio (item / raw): ${ratios.map((r) => r.toFixed(3)).join(', ')}  (median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(3)})`);
  console.log(`visits answered 200: ${answered}; stored in the user database: ${stored} ${stored >= answered ? 'ok' : 'MISSING SOME'}`);
  for (const m of modules) console.log(`${m} ${await systemLog(join(dataDir, `${m}.log`))}`);
  if (stored < answered) process.exitCode = 1;
} finally {
  for (const c of children.reverse()) c.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(storeDir, { recursive: true, force: true });
  await dropDatabases(prefix, pgAdmin);
}
