/**
 * `GET /` on the item service (100 items with is_alarm_set) against raw Bun.serve returning the
 * same precomputed JSON, with the same load generator in the same run.
 *
 *   bun bench/item-list.ts                 # embedded mode (one process, PGlite, in-process bus)
 *   bun bench/item-list.ts --split         # split mode (item/alarm/user processes, Postgres, NATS)
 *   BENCH_SECONDS=10 BENCH_CONNECTIONS=64 BENCH_REPEATS=3 bun bench/item-list.ts
 *
 * The system runs as operated: request lines at info (BENCH_LOG_LEVEL to change it), metrics on,
 * tracing off; its stderr goes to a file (as a container's goes to a pipe), whose last warnings
 * are printed at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabases, fmt, freePort, load, loadAverage, startRawServer, systemLog, waitForHttp, type LoadResult } from './load.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 64);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const split = process.argv.includes('--split');
const token = '4a49145e-45a8-4845-af45-1af2a59bb044';
const dataDir = mkdtempSync(join(tmpdir(), 'bench-'));
const root = join(import.meta.dir, '..');
const ports = { item: freePort(), alarm: freePort(), user: freePort() };
const children: ReturnType<typeof Bun.spawn>[] = [];
const prefix = `bench_${Date.now()}`;

try {
  const logFile = join(dataDir, 'system.log');
  const common = { ...process.env, DATA_DIR: dataDir, LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info', ITEM_PORT: `${ports.item}`, ALARM_PORT: `${ports.alarm}`, USER_PORT: `${ports.user}` };
  if (split) {
    const env = { ...common, SPLIT_DB_PREFIX: prefix, NATS_URL: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', NATS_NAMESPACE: prefix };
    children.push(Bun.spawn(['bun', join(root, 'platform/dev/split.ts')], { env, stdout: 'inherit', stderr: Bun.file(logFile) }));
  } else {
    children.push(Bun.spawn(['bun', join(root, 'platform/main.ts')], { env: common, stdout: 'inherit', stderr: Bun.file(logFile) }));
  }
  const url = `http://127.0.0.1:${ports.item}/`;
  const headers = { 'USER-TOKEN': token };
  await waitForHttp(url, 60000, headers);
  await waitForHttp(`http://127.0.0.1:${ports.alarm}/`, 60000, headers);
  await waitForHttp(`http://127.0.0.1:${ports.user}/`, 60000, headers);
  // Every user takes turns, and every other user has an alarm of their own, so the service
  // cannot answer from one user's state: the body is the real thing, is_alarm_set included.
  const users = ((await (await fetch(`http://127.0.0.1:${ports.user}/`, { headers })).json()) as { payload: { id: number; access_token: string }[] }).payload;
  for (const u of users.filter((u) => u.id % 2 === 0)) {
    const set = await fetch(`http://127.0.0.1:${ports.alarm}/`, {
      method: 'POST',
      headers: { 'USER-TOKEN': u.access_token, 'content-type': 'application/json' },
      body: JSON.stringify({ item_id: u.id }),
    });
    if (set.status !== 201) throw new Error(`alarm POST answered ${set.status} ${await set.text()}`);
  }
  const perUser = users.map((u) => ({ 'USER-TOKEN': u.access_token }));
  const userHeaders = (n: number) => perUser[n % perUser.length]!;
  const body = await (await fetch(url, { headers })).text();
  if (!body.includes('"is_alarm_set":true')) throw new Error('the alarm did not show in GET /');
  const { child: rawServer, url: rawUrl } = await startRawServer({ body, file: join(dataDir, 'body.json') });
  children.push(rawServer);

  // Warm both up, then measure each in turn (raw, system, raw, system, …), BENCH_REPEATS times.
  await load({ url: rawUrl, connections, seconds: 1 });
  await load({ url, headers: userHeaders, connections, seconds: 1 });
  const rows: { raw: LoadResult; system: LoadResult }[] = [];
  for (let i = 0; i < repeats; i++) {
    const raw = await load({ url: rawUrl, connections, seconds });
    const system = await load({ url, headers: userHeaders, connections, seconds });
    rows.push({ raw, system });
  }

  console.log(`GET / on the item service, ${split ? 'split mode (NATS, Postgres)' : 'embedded mode'}, ${connections} connections, ${users.length} users in turn, ${seconds} s each, body ${body.length} bytes, log level ${common.LOG_LEVEL}, ${loadAverage()}`);
  for (const [i, { raw, system }] of rows.entries()) {
    console.log(`#${i + 1} raw Bun.serve  ${fmt(raw)}`);
    console.log(`#${i + 1} item service   ${fmt(system)}   ratio ${(system.rps / raw.rps).toFixed(2)}`);
  }
  const ratios = rows.map((r) => r.system.rps / r.raw.rps).sort((a, b) => a - b);
  console.log(`ratio (item / raw): ${ratios.map((r) => r.toFixed(2)).join(', ')}  (median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)})`);
  console.log(await systemLog(logFile));
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
  rmSync(dataDir, { recursive: true, force: true });
  if (split) {
    // Leave the shared Postgres and NATS as we found them.
    await dropDatabases(prefix);
    const { connect } = await import('nats');
    const nc = await connect({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222' });
    const jsm = await nc.jetstreamManager();
    for await (const st of jsm.streams.list()) if (st.config.name.includes(prefix)) await jsm.streams.delete(st.config.name);
    await nc.close();
  }
}
