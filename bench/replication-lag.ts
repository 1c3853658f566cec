/**
 * Replication lag in split mode: from sending an alarm write to the copies having it. The alarm
 * service answers 201 only once every replica of the `alarms` bucket (the item and user
 * processes') has applied the write, so "POST answered" is the moment the item process's copy
 * has it; an independent KV watcher shows when NATS first delivered it, and a GET right after
 * the POST checks that the item service shows it (read-your-writes).
 *
 *   bun bench/replication-lag.ts            # uses 127.0.0.1 Postgres and NATS, 300 writes
 */
import { connect } from 'nats';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropDatabases, freePort, waitForHttp } from './load.ts';

const writes = Number(process.env.BENCH_WRITES ?? 300);
const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const prefix = `lag_${Date.now()}`;
const dataDir = mkdtempSync(join(tmpdir(), 'lag-'));
const ports = { item: freePort(), alarm: freePort(), user: freePort() };
const env = {
  ...process.env,
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  SPLIT_DB_PREFIX: prefix,
  NATS_URL: natsUrl,
  NATS_NAMESPACE: prefix,
  ITEM_PORT: `${ports.item}`,
  ALARM_PORT: `${ports.alarm}`,
  USER_PORT: `${ports.user}`,
};
const split = Bun.spawn(['bun', join(import.meta.dir, '..', 'platform/dev/split.ts')], { env, stdout: 'inherit', stderr: 'inherit' });
const token = '4a49145e-45a8-4845-af45-1af2a59bb044';
const headers = { 'USER-TOKEN': token, 'content-type': 'application/json' };
const pct = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;

try {
  await waitForHttp(`http://127.0.0.1:${ports.item}/`, 60000, headers);
  await waitForHttp(`http://127.0.0.1:${ports.alarm}/`, 60000, headers);
  const nc = await connect({ servers: natsUrl });
  const kv = await nc.jetstream().views.kv(`${prefix}_alarms`);
  const seen = new Map<number, number>();
  const watch = await kv.watch({ key: '10' });
  void (async () => {
    for await (const e of watch) seen.set(e.revision, performance.now());
  })();

  const toCopy: number[] = [];
  const toAnswered: number[] = [];
  const toVisible: number[] = [];
  for (let i = 0; i < writes; i++) {
    // Set then clear the same item: every write changes the user's alarm set.
    const itemId = (Math.floor(i / 2) % 100) + 1;
    const method = i % 2 === 0 ? 'POST' : 'DELETE';
    const before = (await kv.status()).streamInfo.state.last_seq;
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${ports.alarm}/`, { method, headers, body: JSON.stringify({ item_id: itemId }) });
    await res.arrayBuffer();
    toAnswered.push(performance.now() - t0);
    const body = (await (await fetch(`http://127.0.0.1:${ports.item}/${itemId}`, { headers })).json()) as { payload: { is_alarm_set: boolean } };
    toVisible.push(performance.now() - t0);
    if (body.payload.is_alarm_set !== (method === 'POST')) throw new Error(`write ${i} not visible`);
    const deadline = Date.now() + 2000;
    let at: number | undefined;
    while (!at && Date.now() < deadline) {
      at = [...seen.entries()].filter(([rev]) => rev > before).map(([, t]) => t)[0];
      if (!at) await Bun.sleep(1);
    }
    if (at) toCopy.push(at - t0);
    else console.error(`write ${i}: the watcher did not see it (before ${before}, seen ${[...seen.keys()].join(',')})`);
  }
  watch.stop();
  await nc.close();
  console.log(`${writes} alarm writes (split mode, NATS ${natsUrl})`);
  const line = (what: string, xs: number[]) => console.log(`${what.padEnd(52)} p50 ${pct(xs, 0.5).toFixed(2)} ms  p99 ${pct(xs, 0.99).toFixed(2)} ms`);
  line('write sent → an independent KV watcher has it', toCopy);
  line('write sent → 201/200 (every replica has applied it)', toAnswered);
  line('write sent → item GET after it shows it', toVisible);
} finally {
  split.kill('SIGTERM');
  await split.exited;
  rmSync(dataDir, { recursive: true, force: true });
  await dropDatabases(prefix);
  const nc = await connect({ servers: natsUrl });
  const jsm = await nc.jetstreamManager();
  for await (const st of jsm.streams.list()) if (st.config.name.includes(prefix)) await jsm.streams.delete(st.config.name);
  await nc.close();
}
