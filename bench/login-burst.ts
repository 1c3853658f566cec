/**
 * Login throughput, and what a burst of logins does to `GET /me` (issue 4). Each `POST /auth`
 * costs a 600000-iteration PBKDF2-SHA256 (libuv thread pool, cores - 1 at once), so logins are bound by
 * the CPUs; the question is whether everything else keeps answering meanwhile.
 *
 * minifb runs embedded (PGlite, in-process bus) in a child process; one user signs up. Measured,
 * with the same load generator in the same run:
 *   - `POST /auth` alone with 8 and 32 connections: logins per second, p50, p99;
 *   - `GET /me` alone (64 connections), then again while 16 connections hammer `POST /auth`;
 *   - raw `Bun.serve` answering the same `/me` body (64 connections): the baseline.
 *
 *   bun bench/login-burst.ts
 *   BENCH_SECONDS=10 bun bench/login-burst.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fmt, freePort, load, startRawServer, waitForHttp, type LoadResult } from './load.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const meConnections = 64;
const burstConnections = 16;
const loginConnections = [8, 32];
const user = { id: 'bench-user', pw: 'bench-password-1', name: 'Bench' };
const dataDir = mkdtempSync(join(tmpdir(), 'login-burst-'));
const root = join(import.meta.dir, '..');
const port = freePort();
const base = `http://127.0.0.1:${port}`;
const children: ReturnType<typeof Bun.spawn>[] = [];

/** `POST /auth` in a closed loop, as every other load here. */
const loadLogins = (opts: { connections: number; seconds: number }) =>
  load({
    url: `${base}/auth`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ id: user.id, pw: user.pw }),
    connections: opts.connections,
    seconds: opts.seconds,
  });

try {
  const env = {
    ...process.env,
    MODULES: 'account,feed,notification,stats',
    DATA_DIR: dataDir,
    LOG_LEVEL: 'warn',
    ACCOUNT_PORT: `${port}`,
    FEED_PORT: `${port}`,
    NOTIFICATION_PORT: `${port}`,
    STATS_PORT: `${port}`,
  };
  children.push(Bun.spawn(['bun', join(root, 'platform/main.ts')], { env, stdout: 'inherit', stderr: 'inherit' }));
  await waitForHttp(`${base}/me`, 60000);

  const signup = await fetch(`${base}/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(user) });
  if (signup.status !== 201) throw new Error(`POST /signup answered ${signup.status} ${await signup.text()}`);
  const auth = await fetch(`${base}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: user.id, pw: user.pw }) });
  if (auth.status !== 200) throw new Error(`POST /auth answered ${auth.status} ${await auth.text()}`);
  const { accessToken } = (await auth.json()) as { accessToken: string };
  const meUrl = `${base}/me`;
  const headers = { authorization: `Bearer ${accessToken}` };
  const me = await fetch(meUrl, { headers });
  const meBody = await me.text();
  if (me.status !== 200) throw new Error(`GET /me answered ${me.status} ${meBody}`);

  const { child: rawServer, url: rawUrl } = await startRawServer({ body: meBody, file: join(dataDir, 'me.json') });
  children.push(rawServer);

  // Warm up: the raw server, /me, and a few logins (JIT, PGlite's buffers, the hashing threads).
  await load({ url: rawUrl, connections: meConnections, seconds: 1 });
  await load({ url: meUrl, headers, connections: meConnections, seconds: 1 });
  await loadLogins({ connections: 4, seconds: 2 });

  const raw = await load({ url: rawUrl, connections: meConnections, seconds });
  const meAlone = await load({ url: meUrl, headers, connections: meConnections, seconds });
  // The burst starts first and ends after /me does, so every /me request meets it at full strength.
  const burstRun = loadLogins({ connections: burstConnections, seconds: seconds + 2 });
  await Bun.sleep(1000);
  const meDuringBurst = await load({ url: meUrl, headers, connections: meConnections, seconds });
  const burst = await burstRun;
  const logins: [number, LoadResult][] = [];
  for (const c of loginConnections) logins.push([c, await loadLogins({ connections: c, seconds })]);

  const row = (label: string, r: LoadResult) => console.log(`${label.padEnd(50)}${fmt(r)}`);
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(`minifb embedded (PGlite, in-process bus), ${navigator.hardwareConcurrency} CPUs, ${seconds} s per measurement, /me body ${meBody.length} bytes`);
  for (const [c, r] of logins) row(`POST /auth alone, ${c} connections`, r);
  row(`raw Bun.serve (the /me body), ${meConnections} connections`, raw);
  row(`GET /me alone, ${meConnections} connections`, meAlone);
  row(`GET /me during a login burst, ${meConnections} connections`, meDuringBurst);
  row(`  the burst: POST /auth, ${burstConnections} connections`, burst);
  console.log(`GET /me during burst / alone:  p50 ×${ratio(meDuringBurst.p50, meAlone.p50)}  p99 ×${ratio(meDuringBurst.p99, meAlone.p99)}  req/s ×${ratio(meDuringBurst.rps, meAlone.rps)}`);
  console.log(`GET /me alone / raw:           p50 ×${ratio(meAlone.p50, raw.p50)}  p99 ×${ratio(meAlone.p99, raw.p99)}  req/s ×${ratio(meAlone.rps, raw.rps)}`);
  console.log(`GET /me during burst / raw:    p50 ×${ratio(meDuringBurst.p50, raw.p50)}  p99 ×${ratio(meDuringBurst.p99, raw.p99)}  req/s ×${ratio(meDuringBurst.rps, raw.rps)}`);
} finally {
  for (const c of children) c.kill('SIGTERM');
  await Promise.all(children.map((c) => c.exited));
  rmSync(dataDir, { recursive: true, force: true });
}
