/**
 * Hashing never starves the rest (issue 13, point 5): `GET /post?limit=20` p99 alone, then during
 * a burst of 50 concurrent logins (`POST /auth`: a 600000-iteration PBKDF2-SHA256 each), and their
 * ratio (target ≤ 2). minifb embedded (PGlite, in-process bus) in a child process, 20 posts.
 * Alone and during the burst are measured in turn, BENCH_REPEATS times (default 3).
 *
 *   bun bench/hash-burst.ts
 *   BENCH_SECONDS=8 BENCH_REPEATS=3 POST_CONNECTIONS=8 bun bench/hash-burst.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, load, waitForHttp, type LoadResult } from './load.ts';
import { benchPort } from './wrk.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 6);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const postConnections = Number(process.env.POST_CONNECTIONS ?? 8);
const logins = 50;
const user = { id: 'hashbench', pw: 'hash-bench-password', name: 'Hash' };
const dataDir = mkdtempSync(join(tmpdir(), 'hash-burst-'));
const root = join(import.meta.dir, '..');
const port = await benchPort();
const base = `http://127.0.0.1:${port}`;
const json = { 'content-type': 'application/json' };
let child: ReturnType<typeof Bun.spawn> | undefined;

try {
  const env = { ...process.env, MODULES: 'account,feed,notification,stats', DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  for (const m of ['ACCOUNT', 'FEED', 'NOTIFICATION', 'STATS']) (env as Record<string, string>)[`${m}_PORT`] = `${port}`;
  child = Bun.spawn(['bun', join(root, 'platform/main.ts')], { env, stdout: 'inherit', stderr: 'inherit' });
  await waitForHttp(`${base}/me`, 60000);
  const signup = await fetch(`${base}/signup`, { method: 'POST', headers: json, body: JSON.stringify(user) });
  if (signup.status !== 201) throw new Error(`POST /signup answered ${signup.status} ${await signup.text()}`);
  const auth = await fetch(`${base}/auth`, { method: 'POST', headers: json, body: JSON.stringify({ id: user.id, pw: user.pw }) });
  const { accessToken } = (await auth.json()) as { accessToken: string };
  const headers = { authorization: `Bearer ${accessToken}` };
  for (let i = 0; i < 20; i++) {
    const r = await fetch(`${base}/post`, { method: 'POST', headers: { ...headers, ...json }, body: JSON.stringify({ content: `post ${i}` }) });
    if (r.status !== 201) throw new Error(`POST /post answered ${r.status}`);
  }
  const posts = () => load({ url: `${base}/post?limit=20`, headers, connections: postConnections, seconds });
  /** 50 logins at once, again as soon as each answers, for `s` seconds. */
  const burst = (s: number) =>
    load({ url: `${base}/auth`, method: 'POST', headers: json, body: JSON.stringify({ id: user.id, pw: user.pw }), connections: logins, seconds: s });

  await posts(); // warm up
  await burst(2);
  const rows: { alone: LoadResult; during: LoadResult; burst: LoadResult }[] = [];
  for (let i = 0; i < repeats; i++) {
    const alone = await posts();
    // The burst starts first and ends after the reads do: every read meets it at full strength.
    const running = burst(seconds + 2);
    await Bun.sleep(1000);
    const during = await posts();
    rows.push({ alone, during, burst: await running });
  }
  console.log(`minifb embedded (PGlite), ${navigator.hardwareConcurrency} CPUs (shared), GET /post?limit=20 with ${postConnections} connections, bursts of ${logins} concurrent POST /auth, ${seconds} s each`);
  for (const [i, r] of rows.entries()) {
    console.log(`#${i + 1} GET /post alone         ${fmt(r.alone)}`);
    console.log(`#${i + 1} GET /post during burst  ${fmt(r.during)}`);
    console.log(`#${i + 1}   the burst: POST /auth ${fmt(r.burst)}`);
    console.log(`#${i + 1} p99 during / alone: ${(r.during.p99 / r.alone.p99).toFixed(2)}`);
  }
  const ratios = rows.map((r) => r.during.p99 / r.alone.p99).sort((a, b) => a - b);
  console.log(`GET /post p99 during a 50-login burst / idle: ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)}; target ≤ 2)`);
} finally {
  child?.kill('SIGTERM');
  await child?.exited;
  rmSync(dataDir, { recursive: true, force: true });
}
