import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allModules } from '../modules/index.ts';
import { parseConfig } from '../platform/config.ts';
import { loadInitSqlIfEmpty } from '../platform/data/db.ts';
import { createLogger } from '../platform/observability/log.ts';
import { startProxy } from '../platform/dev/proxy.ts';
import { startSystem, type RunningSystem } from '../platform/runtime.ts';
import { admin, urlOf, type ShopApi } from './support/shop.ts';
import { eventually, freePort, type PrivateNats, SplitShop } from './support/split.ts';

/**
 * Health and metrics, black-box, on real ports: `/healthz`, `/readyz` and `/metrics` on every
 * port of the embedded mode (both products) and of split homeshopping processes over a private
 * NATS. Readiness follows what a port needs — a database that stops taking connections, NATS
 * going away while copies cannot answer alone — and comes back with it; the container health
 * check (docker/healthcheck.sh) says what /readyz says; every /metrics passes `promtool check
 * metrics` (Debian's `prometheus` package; `.ci/run` installs it).
 */
const ROOT = join(import.meta.dir, '..');
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';

/** `promtool check metrics` on a scrape: its exit status and what it said. */
function promtool(text: string): { exitCode: number | null; output: string } {
  const run = Bun.spawnSync(['promtool', 'check', 'metrics'], { stdin: Buffer.from(text), stdout: 'pipe', stderr: 'pipe' });
  return { exitCode: run.exitCode, output: run.stdout.toString() + run.stderr.toString() };
}

/**
 * docker/healthcheck.sh as a container with this environment runs it: its exit status. (Not
 * spawnSync: the ports it asks are served by this very process.)
 */
async function healthcheck(env: Record<string, string>): Promise<number> {
  const run = Bun.spawn(['sh', join(ROOT, 'docker/healthcheck.sh')], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdout: 'ignore', stderr: 'ignore' });
  return run.exited;
}

const get = async (url: string, headers: Record<string, string> = {}) => {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  return { status: res.status, body, text, type: res.headers.get('content-type') ?? '' };
};

/** Polls `ask` until it answers `status`; that answer. */
const until = async <A extends { status: number }>(ask: () => Promise<A>, status: number, ms: number, what: string): Promise<A> =>
  (await eventually(async () => {
    const res = await ask();
    return res.status === status ? res : null;
  }, ms, what))!;

/** The value of one sample line of a scrape, undefined when absent. */
const sample = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

describe('embedded: every port of both products', () => {
  let dataDir = '';
  const itemDb = `t_health_${crypto.randomUUID().replaceAll('-', '').slice(0, 10)}_item`;
  const portOf: Record<string, number> = { item: freePort(), alarm: freePort(), user: freePort(), minifb: freePort() };
  const ports = () => Object.values(portOf);
  const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
  let system: RunningSystem;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'health-'));
    // The item module on Postgres (a database this test can take away); the rest embedded.
    await admin(`CREATE DATABASE "${itemDb}"`);
    await loadInitSqlIfEmpty(urlOf(itemDb), allModules.find((m) => m.name === 'item')!.initSql!);
    const env: Record<string, string> = { DATA_DIR: dataDir, HOST: '127.0.0.1', LOG_LEVEL: 'error', ITEM_DATABASE_URL: urlOf(itemDb), ITEM_PORT: String(portOf.item), ALARM_PORT: String(portOf.alarm), USER_PORT: String(portOf.user) };
    for (const m of ['account', 'feed', 'notification', 'stats']) env[`${m.toUpperCase()}_PORT`] = String(portOf.minifb);
    system = await startSystem(parseConfig(env, allModules), allModules);
  }, 120000);

  afterAll(async () => {
    await admin(`ALTER DATABASE "${itemDb}" ALLOW_CONNECTIONS true`).catch(() => {});
    await system?.stop();
    await admin(`DROP DATABASE IF EXISTS "${itemDb}" WITH (FORCE)`);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  test('every port — GET /healthz is 200 alive and GET /readyz 200 ready, without any credentials', async () => {
    for (const port of ports()) {
      expect({ port, ...(await get(url(port, '/healthz'))) }).toMatchObject({ port, status: 200, body: { status: 'alive' } });
      expect({ port, ...(await get(url(port, '/readyz'))) }).toMatchObject({ port, status: 200, body: { status: 'ready' } });
    }
  });

  test('every port — /metrics is prom-client\'s exposition and `promtool check metrics` finds nothing to say', async () => {
    // Some traffic first: a detail by its route pattern, a 404, a minifb login.
    await get(url(portOf.item!, '/50'), { 'USER-TOKEN': T10 });
    await get(url(portOf.item!, '/999'), { 'USER-TOKEN': T10 });
    await fetch(url(portOf.minifb!, '/auth'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'admin', pw: 'minifb-admin-dev-password' }) });
    for (const port of ports()) {
      const res = await get(url(port, '/metrics'));
      expect({ port, status: res.status, type: res.type }).toEqual({ port, status: 200, type: 'text/plain; version=0.0.4; charset=utf-8' });
      expect({ port, ...promtool(res.text) }).toEqual({ port, exitCode: 0, output: '' });
    }
  });

  test('/metrics — default metrics, request durations by route pattern (never the raw path), and the system\'s own by module', async () => {
    const text = (await get(url(portOf.alarm!, '/metrics'))).text;
    // One registry per process: every port shows the same families.
    for (const family of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) expect(text).toContain(`# TYPE ${family} `);
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(sample(text, 'log_lines_dropped_total')).toBe(0);
    expect(sample(text, 'http_request_duration_seconds_count{method="GET",route="/{item_id}",status_code="200",api="item"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'http_request_duration_seconds_count{method="GET",route="/{item_id}",status_code="404",api="item"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'http_request_duration_seconds_count{method="POST",route="/auth",status_code="200",api="account,feed,notification,stats"}')).toBeGreaterThanOrEqual(1);
    expect(text).not.toMatch(/route="\/(50|999)"/);
    for (const module of ['item', 'alarm', 'user', 'account', 'feed', 'notification', 'stats']) expect(sample(text, `outbox_rows_waiting{module="${module}"}`)).toBe(0);
    // The detail of item 50 read user 10 through item's copy of users (filled in the background
    // or read on the miss), and holds it.
    expect(sample(text, 'copy_entries{module="item",bucket="users"}')).toBeGreaterThanOrEqual(1);
    expect((sample(text, 'copy_hits_total{module="item",bucket="users"}') ?? 0) + (sample(text, 'copy_misses_total{module="item",bucket="users"}') ?? 0)).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'copy_entries{module="alarm",bucket="items"}')).toBe(100); // the catalog, held whole
    expect(text).toContain('copy_hits_total{module="feed",bucket="accounts"}');
    expect(sample(text, 'copy_change_lag_seconds_count{module="user",bucket="items"}')).toBeGreaterThanOrEqual(100);
    expect(sample(text, 'consumer_pending{module="user",stream="ITEM_EVENTS",durable="user-visits"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'consumer_pending{module="notification",stream="FEED_EVENTS",durable="notifications"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'bus_connected')).toBe(1);
    expect(sample(text, 'telemetry_unsent_seconds')).toBeGreaterThanOrEqual(0);
  });

  test('/readyz — 503 naming the database while the item database takes no connections (its port only); 200 again after', async () => {
    const item = url(portOf.item!, '/readyz');
    const container = { MODULES: 'item', ITEM_PORT: String(portOf.item) };
    expect(await healthcheck(container)).toBe(0);
    await admin(`ALTER DATABASE "${itemDb}" ALLOW_CONNECTIONS false`);
    await admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${itemDb}'`);
    const down = await until(() => get(item), 503, 10000, 'item not ready');
    expect(down.body).toEqual({ result: 'Service Unavailable', hint: 'item database unreachable' });
    // Alive all the same, and the other ports are ready: they do not need item's database.
    expect((await get(url(portOf.item!, '/healthz'))).status).toBe(200);
    for (const port of [portOf.alarm!, portOf.user!, portOf.minifb!]) expect({ port, status: (await get(url(port, '/readyz'))).status }).toEqual({ port, status: 200 });
    // The container's health check says so.
    expect(await healthcheck(container)).toBe(1);
    expect(await healthcheck({ MODULES: 'alarm,user', ALARM_PORT: String(portOf.alarm), USER_PORT: String(portOf.user) })).toBe(0);

    await admin(`ALTER DATABASE "${itemDb}" ALLOW_CONNECTIONS true`);
    await eventually(async () => (await get(item)).status === 200, 10000, 'item ready again');
    expect((await get(item)).body).toEqual({ status: 'ready' });
    expect(await healthcheck(container)).toBe(0);
  }, 30000);
});

describe('split: homeshopping processes over a private NATS', () => {
  let nats: PrivateNats;
  let shop: SplitShop<PrivateNats>;

  beforeAll(async () => {
    // A fault suite: /readyz answers 503 while NATS is away.
    shop = await SplitShop.withOwnNats({ faults: true });
    nats = shop.nats;
  }, 120000);

  afterAll(() => shop?.stop(), 60000);

  const ask = (module: ShopApi, path: string, token?: string) => shop[module].call('GET', path, { token });
  const readyz = (module: ShopApi) => ask(module, '/readyz');

  test('every process — /healthz and /readyz 200; its /metrics passes promtool and counts its consumer and its copies', async () => {
    for (const module of ['item', 'alarm', 'user'] as const) {
      expect({ module, ...(await ask(module, '/healthz')) }).toMatchObject({ module, status: 200, body: { status: 'alive' } });
      await eventually(async () => (await readyz(module)).status === 200, 10000, `${module} ready`);
      const text = (await ask(module, '/metrics')).text;
      expect({ module, ...promtool(text) }).toEqual({ module, exitCode: 0, output: '' });
      expect(sample(text, 'bus_connected')).toBe(1);
      expect(sample(text, `outbox_rows_waiting{module="${module}"}`)).toBeGreaterThanOrEqual(0);
    }
    const user = (await ask('user', '/metrics')).text;
    expect(sample(user, 'consumer_pending{module="user",stream="ITEM_EVENTS",durable="user-visits"}')).toBe(0);
    expect(sample(user, 'copy_entries{module="user",bucket="items"}')).toBe(100);
    // A visit recorded by item reaches user's consumer: nothing pending once it is handled.
    expect((await ask('item', '/50', T10)).status).toBe(200);
    await eventually(async () => {
      const visits = await ask('user', '/visit', T10);
      return (visits.body as { count?: number }).count === 1;
    }, 10000, 'the visit consumed');
    await eventually(async () => sample((await ask('user', '/metrics')).text, 'consumer_pending{module="user",stream="ITEM_EVENTS",durable="user-visits"}') === 0, 10000, 'nothing pending');
  }, 60000);

  test('NATS down — with the kit\'s data every copy holds its bucket whole, so every process stays ready and healthy; bus_connected says NATS is gone, and comes back', async () => {
    // (a copy that cannot answer alone makes /readyz 503 naming it: platform/observability/health.test.ts)
    for (const module of ['item', 'alarm', 'user'] as const) {
      await eventually(async () => sample((await ask(module, '/metrics')).text, `copy_whole{module="${module}",bucket="users"}`) === 1, 15000, `${module} holding every user`);
    }
    await nats.stop();
    await eventually(async () => sample((await ask('alarm', '/metrics')).text, 'bus_connected') === 0, 15000, 'alarm noticing NATS is gone');
    for (const module of ['item', 'alarm', 'user'] as const) {
      expect({ module, ready: (await readyz(module)).status, alive: (await ask(module, '/healthz')).status }).toEqual({ module, ready: 200, alive: 200 });
    }
    expect(await healthcheck({ MODULES: 'alarm', ALARM_PORT: String(shop.processes.get('alarm')!.port) })).toBe(0);

    await nats.start();
    await eventually(async () => sample((await ask('alarm', '/metrics')).text, 'bus_connected') === 1, 20000, 'alarm connected again');
    for (const module of ['item', 'alarm', 'user'] as const) await eventually(async () => (await readyz(module)).status === 200, 20000, `${module} ready`);
  }, 60000);
});

describe("the split topology's proxy (platform/dev/proxy.ts)", () => {
  /** A module process: answers /readyz as told, and anything else with its name. */
  const fake = (name: string) => {
    const state = { ready: true };
    const server = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: (request) =>
        new URL(request.url).pathname === '/readyz'
          ? state.ready
            ? Response.json({ status: 'ready' })
            : Response.json({ result: 'Service Unavailable', hint: `${name} database unreachable` }, { status: 503 })
          : new Response(name),
    });
    return { state, server, url: `http://127.0.0.1:${server.port}` };
  };

  test('/healthz is its own; /readyz is 200 while every module has a ready process, else 503 naming the paths and why', async () => {
    const [account, feed1, feed2] = [fake('account'), fake('feed'), fake('feed')];
    const proxy = startProxy({
      port: 0,
      hostname: '127.0.0.1',
      routes: [
        { prefix: '/me', upstreams: [account.url] },
        { prefix: '/post', upstreams: [feed1.url, feed2.url] },
      ],
      fallback: [account.url],
      log: createLogger({ test: 'proxy-health' }),
    });
    const at = (path: string) => get(`http://127.0.0.1:${proxy.port}${path}`);
    try {
      expect(await at('/healthz')).toMatchObject({ status: 200, body: { status: 'alive' } });
      expect(await at('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
      feed1.state.ready = false; // the other feed process answers
      expect(await at('/readyz')).toMatchObject({ status: 200, body: { status: 'ready' } });
      feed2.server.stop(true);
      expect(await at('/readyz')).toMatchObject({ status: 503, body: { result: 'Service Unavailable' } });
      const { hint } = (await at('/readyz')).body as { hint: string };
      expect(hint).toStartWith(`no process for /post is ready (${feed1.url}: feed database unreachable, ${feed2.url}: not answering`);
      account.state.ready = false;
      // Each module that cannot answer, in the order of the routes (a path no module declares goes to the first).
      expect(((await at('/readyz')).body as { hint: string }).hint).toStartWith(`no process for /me / is ready (${account.url}: account database unreachable); no process for /post is ready`);
      expect((await at('/me')).text).toBe('account'); // the API itself is proxied as before
    } finally {
      await proxy.stop(true);
      for (const f of [account, feed1]) f.server.stop(true);
    }
  });
});
