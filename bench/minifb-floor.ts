/**
 * minifb at its SQL floor (issue 13, point 4): for each endpoint below, the system against a bare
 * Bun.serve running the same statements and the same event publishes through the same driver on
 * the same data (bench/minifb-floor-server.ts), both driven by wrk, interleaved (floor, system, …),
 * BENCH_REPEATS times; prints each endpoint's ratio to its floor and both p99s. Targets: reads
 * ≥ 0.7, writes ≥ 0.5.
 *
 *   GET /me, GET /post?limit=20, GET /post/{id}, GET /timeline/{id}?limit=20,
 *   POST /post, POST /post/{id}/comment, POST /post/{id}/reaction (types in turn: new and changed)
 *
 * Modes: embedded (one process, PGlite, in-process bus; the floor on PGlite databases of its own
 * filled with the same rows) and split (a process per module on Postgres databases bench_fb_*, a
 * nats-server of its own; the floor on the same databases and NATS).
 *
 *   bun bench/minifb-floor.ts                 # both modes
 *   bun bench/minifb-floor.ts --embedded      # or --split
 *   BENCH_SECONDS=3 BENCH_REPEATS=3 BENCH_CONNECTIONS=32 bun bench/minifb-floor.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planSplit, prepareDatabases } from '../platform/dev/split.ts';
import { dropDatabases, waitForHttp } from './load.ts';
import { benchPort, wrk, type WrkRequest, type WrkResult } from './wrk.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const pgAdmin = process.env.SPLIT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const root = join(import.meta.dir, '..');
const only = process.env.BENCH_ONLY; // e.g. 'comment' runs the endpoints whose name contains it
const modes = process.argv.includes('--embedded') ? ['embedded'] : process.argv.includes('--split') ? ['split'] : ['embedded', 'split'];
const USERS = 20;
const POSTS = 100;
const json = { 'content-type': 'application/json' };

interface Endpoint {
  name: string;
  write: boolean;
  on: 'account' | 'feed';
  request: (k: number, token: (n: number) => string) => WrkRequest;
}
const user = (n: number) => `fbbench${String(n % USERS).padStart(2, '0')}`;
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const endpoints: Endpoint[] = [
  { name: 'GET /me', write: false, on: 'account', request: (k, t) => ({ path: '/me', headers: bearer(t(k)) }) },
  { name: 'GET /post', write: false, on: 'feed', request: (k, t) => ({ path: '/post?limit=20', headers: bearer(t(k)) }) },
  { name: 'GET /post/{id}', write: false, on: 'feed', request: (k, t) => ({ path: `/post/${((k * 13) % POSTS) + 1}`, headers: bearer(t(k)) }) },
  { name: 'GET /timeline/{id}', write: false, on: 'feed', request: (k, t) => ({ path: `/timeline/${user(k * 7)}?limit=20`, headers: bearer(t(k)) }) },
  { name: 'POST /post', write: true, on: 'feed', request: (k, t) => ({ method: 'POST', path: '/post', headers: { ...bearer(t(k)), ...json }, body: JSON.stringify({ content: `bench post ${k}` }) }) },
  {
    name: 'POST /post/{id}/comment',
    write: true,
    on: 'feed',
    request: (k, t) => ({ method: 'POST', path: `/post/${((k * 13) % POSTS) + 1}/comment`, headers: { ...bearer(t(k)), ...json }, body: JSON.stringify({ content: `bench comment ${k}` }) }),
  },
  {
    name: 'POST /post/{id}/reaction',
    write: true,
    on: 'feed',
    request: (k, t) => ({ method: 'POST', path: `/post/${((k * 13) % POSTS) + 1}/reaction`, headers: { ...bearer(t(k)), ...json }, body: JSON.stringify({ type: (Math.floor(k / USERS) % 5) + 1 }) }),
  },
];

async function run(mode: string) {
  const children: ReturnType<typeof Bun.spawn>[] = [];
  const dataDir = mkdtempSync(join(tmpdir(), 'bench-fb-'));
  const prefix = `bench_fb_${Date.now().toString(36)}`;
  const splitModules = ['account', 'feed', 'notification', 'stats'];
  const spawn = (cmd: string[], env: Record<string, string | undefined> = process.env) => {
    const c = Bun.spawn(cmd, { env, stdout: 'ignore', stderr: cmd[0] === 'nats-server' ? 'ignore' : 'inherit' });
    children.push(c);
    return c;
  };
  try {
    const base: Record<string, string> = {};
    let floorArgs: string[];
    if (mode === 'embedded') {
      const port = await benchPort();
      const env: Record<string, string | undefined> = { ...process.env, MODULES: splitModules.join(','), DATA_DIR: join(dataDir, 'app'), LOG_LEVEL: 'error' };
      for (const m of splitModules) env[`${m.toUpperCase()}_PORT`] = `${port}`;
      spawn(['bun', join(root, 'platform/main.ts')], env);
      base.account = base.feed = `http://127.0.0.1:${port}`;
      floorArgs = ['pglite', join(dataDir, 'floor')];
    } else {
      const natsPort = await benchPort();
      spawn(['nats-server', '-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', join(dataDir, 'nats')]);
      await prepareDatabases({ pgUrl: pgAdmin, dbPrefix: prefix, modules: splitModules });
      const ports: Record<string, number> = {};
      for (const m of splitModules) ports[m] = await benchPort();
      const natsUrl = `nats://127.0.0.1:${natsPort}`;
      const plan = planSplit({
        pgUrl: pgAdmin,
        dbPrefix: prefix,
        natsUrl,
        modules: splitModules,
        ports,
        minifb: { jwtSecret: randomBytes(48).toString('base64url'), adminId: 'admin', adminPassword: 'minifb-admin-dev-password' },
      });
      for (const p of plan) spawn(['bun', join(root, 'platform/main.ts')], { ...process.env, ...p.env, DATA_DIR: dataDir, LOG_LEVEL: 'error', HOST: '127.0.0.1' });
      base.account = `http://127.0.0.1:${ports.account}`;
      base.feed = `http://127.0.0.1:${ports.feed}`;
      const urlOf = (m: string) => plan.find((p) => p.module === m)!.env[`${m.toUpperCase()}_DATABASE_URL`]!;
      floorArgs = ['pg', urlOf('account'), urlOf('feed'), natsUrl, ''];
    }
    for (const m of ['account', 'feed']) await waitForHttp(`${base[m]}/openapi.json`, 90000);

    // The same accounts and posts for the system and (embedded) the floor's own databases.
    const tokens: string[] = [];
    for (let n = 0; n < USERS; n++) {
      const creds = { id: user(n), pw: 'fb-bench-password' };
      const signup = await fetch(`${base.account}/signup`, { method: 'POST', headers: json, body: JSON.stringify({ ...creds, name: user(n) }) });
      if (signup.status !== 201) throw new Error(`POST /signup answered ${signup.status} ${await signup.text()}`);
      const auth = await fetch(`${base.account}/auth`, { method: 'POST', headers: json, body: JSON.stringify(creds) });
      tokens.push(((await auth.json()) as { accessToken: string }).accessToken);
    }
    const posts = Array.from({ length: POSTS }, (_, i) => ({ owner: user(i), content: `seed post ${i}` }));
    for (const [i, p] of posts.entries()) {
      const r = await fetch(`${base.feed}/post`, { method: 'POST', headers: { ...bearer(tokens[i % USERS]!), ...json }, body: JSON.stringify({ content: p.content }) });
      if (r.status !== 201) throw new Error(`POST /post answered ${r.status}`);
    }
    const floorPort = await benchPort();
    spawn(['bun', join(import.meta.dir, 'minifb-floor-server.ts'), String(floorPort), ...floorArgs]);
    const floor = `http://127.0.0.1:${floorPort}`;
    await waitForHttp(`${floor}/_ready`, 60000);
    if (mode === 'embedded') {
      const seeded = await fetch(`${floor}/_seed`, { method: 'POST', headers: json, body: JSON.stringify({ accounts: tokens.map((_, n) => user(n)), posts }) });
      if (!seeded.ok) throw new Error(`floor seed answered ${seeded.status}`);
    }

    const token = (k: number) => tokens[k % USERS]!;
    const lines: string[] = [];
    for (const e of endpoints.filter((e) => !only || e.name.includes(only))) {
      const requests = Array.from({ length: 200 }, (_, k) => e.request(k, token));
      const measure = (target: string, s: number) => wrk({ base: target, requests, connections, seconds: s });
      await measure(floor, 1);
      await measure(base[e.on]!, 1);
      const runs: { floor: WrkResult; system: WrkResult }[] = [];
      for (let i = 0; i < repeats; i++) runs.push({ floor: await measure(floor, seconds), system: await measure(base[e.on]!, seconds) });
      const ratios = runs.map((r) => r.system.rps / r.floor.rps).sort((a, b) => a - b);
      const median = ratios[Math.floor(ratios.length / 2)]!;
      const p99 = (pick: (r: { floor: WrkResult; system: WrkResult }) => WrkResult) => runs.map((r) => pick(r).p99.toFixed(1)).join('/');
      const sum = (pick: (r: WrkResult) => number) => runs.reduce((n, r) => n + pick(r.system) + pick(r.floor), 0);
      const errors = sum((r) => r.non2xx) ? ` non-2xx ${sum((r) => r.non2xx)}` : '';
      const timeouts = sum((r) => r.timeouts) ? ` (wrk gave up after 2 s on ${sum((r) => r.timeouts)})` : '';
      const target = e.write ? 0.5 : 0.7;
      const line = `${mode.padEnd(8)} ${e.name.padEnd(26)} floor ${runs.map((r) => r.floor.rps.toFixed(0)).join('/').padEnd(17)} req/s p99 ${p99((r) => r.floor).padEnd(16)} ms | system ${runs.map((r) => r.system.rps.toFixed(0)).join('/').padEnd(17)} req/s p99 ${p99((r) => r.system).padEnd(16)} ms | ratio ${ratios.map((r) => r.toFixed(2)).join(', ')} (median ${median.toFixed(2)}, target ≥ ${target}) ${median >= target ? 'ok' : 'BELOW'}${errors}${timeouts}`;
      console.log(line);
      lines.push(line);
    }
    return lines;
  } finally {
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
console.log(`\nminifb vs its SQL floor, wrk ${connections} connections, ${seconds} s × ${repeats} interleaved, ${navigator.hardwareConcurrency} CPUs shared with other work; p99 per repeat`);
for (const l of all) console.log(l);
