import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { allModules } from '../modules/index.ts';
import { parseConfig } from '../platform/config.ts';
import { DEFAULT_STATEMENT_TIMEOUT_MS, dumpRunner, loadInitSqlIfEmpty } from '../platform/data/db.ts';
import type { Logger } from '../platform/observability/log.ts';
import { loadDump } from '../platform/data/pg-dump.ts';
import { startSystem, type RunningSystem } from '../platform/runtime.ts';
import { urlTransport } from './conformance/kit.ts';
import { handlerTransport } from './support/client.ts';
import { minifbClient } from './support/minifb.ts';
import { PG_ADMIN_URL, shopClients, urlOf, type ShopApi } from './support/shop.ts';
import { eventually, freePort, PrivateNats } from './support/split.ts';

/**
 * A module's Postgres database failing under a running system, black-box through the port: each
 * connection-level failure (refused, database missing, role missing, too many connections, an
 * administrator's termination) is a 503 in the error envelope within a second, and heals; a
 * statement blocked by a lock is a 503 within the statement timeout and changes nothing. One
 * module of each product (alarm, feed) reaches its database as a role of its own through a TCP
 * forwarder the test can stop; the other modules use the test Postgres directly.
 */
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
/**
 * No answer takes this long: a bound no load can break, where a fault's budgets add up to about
 * half a second (connect, statement and lock timeouts; what each fault costs is measured by
 * bench/db-faults.ts, not asserted here).
 */
const HANG_MS = 2000;
const pgAdmin = new URL(PG_ADMIN_URL);
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => quiet };
const tag = () => `t_dbf_${crypto.randomUUID().replaceAll('-', '').slice(0, 10)}`;

async function sql<T = any>(statement: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return (await client.query(statement, params)).rows as T[];
  } finally {
    await client.end();
  }
}

/**
 * A TCP forwarder to the test Postgres: stopped, its port refuses connections and drops the open
 * ones; blackholed, it keeps every connection and accepts new ones, and forwards nothing (a host
 * gone without closing anything).
 */
class Forwarder {
  readonly port = freePort();
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private blackholed = false;

  async start() {
    this.server = createServer((client) => {
      const upstream = netConnect(Number(pgAdmin.port || 5432), pgAdmin.hostname);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.sockets.add(from);
        from.on('error', () => {});
        from.on('data', (chunk) => void (this.blackholed || to.write(chunk)));
        from.on('close', () => {
          this.sockets.delete(from);
          client.destroy();
          upstream.destroy();
        });
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
  }

  blackhole(on: boolean) {
    this.blackholed = on;
  }

  async stop() {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}

/**
 * A database owned by a role of its own (not a superuser: connection limits apply to it), reached
 * through a forwarder. `initSql` is loaded as the administrator and handed over to the role.
 */
class FaultyDatabase {
  readonly role = tag();
  readonly name = tag();
  readonly forwarder = new Forwarder();
  get url() {
    return `postgres://${this.role}@127.0.0.1:${this.forwarder.port}/${this.name}`;
  }

  async create(initSql?: string) {
    await sql(`CREATE ROLE ${this.role} LOGIN`);
    await sql(`CREATE DATABASE ${this.name} OWNER ${this.role}`);
    if (initSql) {
      await loadInitSqlIfEmpty(urlOf(this.name), initSql);
      const client = new pg.Client({ connectionString: urlOf(this.name) });
      await client.connect();
      try {
        const { rows } = await client.query(`SELECT relname, relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND relkind IN ('r', 'S')`);
        for (const r of rows) await client.query(`ALTER ${r.relkind === 'S' ? 'SEQUENCE' : 'TABLE'} public."${r.relname}" OWNER TO ${this.role}`);
      } finally {
        await client.end();
      }
    }
    await this.forwarder.start();
  }

  /** Ends every session of the role (the pool's idle connections included). */
  async terminate() {
    await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [this.role]);
    await eventually(async () => (await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1`, [this.role]))[0].n === 0, 5000, 'sessions gone');
  }

  /** Runs `work` on an administrator's connection to this database inside an open transaction, then rolls it back. */
  async holding<T>(lock: string, params: unknown[], work: () => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: urlOf(this.name) });
    await client.connect();
    try {
      await client.query('BEGIN');
      await client.query(lock, params);
      return await work();
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
    }
  }

  /** A statement on this database as the administrator. */
  async query<T = any>(statement: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({ connectionString: urlOf(this.name) });
    await client.connect();
    try {
      return (await client.query(statement, params)).rows as T[];
    } finally {
      await client.end();
    }
  }

  /** The role's statements still running (none once a blocked one has been cancelled). */
  async active() {
    return (await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1 AND state = 'active'`, [this.role]))[0].n as number;
  }

  /**
   * Statements of the role still running once none should be: 0 as soon as it is (polled for up
   * to 2 s — a statement of the system's own background work, a relay pass, may be under way at
   * the instant asked; one left over by a fault never ends and is still counted at the deadline).
   */
  async leftRunning(ms = 2000) {
    const deadline = performance.now() + ms;
    for (;;) {
      const n = await this.active();
      if (n === 0 || performance.now() > deadline) return n;
      await Bun.sleep(50);
    }
  }

  async drop() {
    await this.forwarder.stop();
    for (const name of [this.name, `${this.name}_gone`]) await sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    for (const role of [this.role, `${this.role}_gone`]) await sql(`DROP ROLE IF EXISTS ${role}`);
  }
}

interface Answer {
  status: number;
  body: any;
  ms: number;
  /** X-Consistency, when the answer has it. */
  consistency?: string | null;
}

/** Every connection-level failure, each applied to a running system and undone. */
const connectionFaults: { name: string; apply(d: FaultyDatabase): Promise<void>; undo(d: FaultyDatabase): Promise<void> }[] = [
  {
    name: 'connection refused (the database host is gone)',
    apply: (d) => d.forwarder.stop(),
    undo: (d) => d.forwarder.start(),
  },
  {
    name: 'the database host hangs (connections kept, nothing answered)',
    apply: async (d) => d.forwarder.blackhole(true),
    undo: async (d) => d.forwarder.blackhole(false),
  },
  {
    name: 'the database does not exist (3D000: renamed away)',
    async apply(d) {
      await sql(`ALTER DATABASE ${d.name} ALLOW_CONNECTIONS false`);
      await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1`, [d.name]);
      await eventually(async () => {
        try {
          await sql(`ALTER DATABASE ${d.name} RENAME TO ${d.name}_gone`);
          return true;
        } catch {
          return false;
        }
      }, 5000, 'database renamed');
    },
    async undo(d) {
      await sql(`ALTER DATABASE ${d.name}_gone RENAME TO ${d.name}`);
      await sql(`ALTER DATABASE ${d.name} ALLOW_CONNECTIONS true`);
    },
  },
  {
    name: 'the role does not exist (28000: authentication refused)',
    async apply(d) {
      await sql(`ALTER ROLE ${d.role} RENAME TO ${d.role}_gone`);
      await sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, [`${d.role}_gone`]);
      await eventually(async () => (await sql(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1`, [`${d.role}_gone`]))[0].n === 0, 5000, 'sessions gone');
    },
    undo: async (d) => void (await sql(`ALTER ROLE ${d.role}_gone RENAME TO ${d.role}`)),
  },
  {
    name: 'too many connections (53300)',
    async apply(d) {
      await sql(`ALTER ROLE ${d.role} CONNECTION LIMIT 0`);
      await d.terminate();
    },
    undo: async (d) => void (await sql(`ALTER ROLE ${d.role} CONNECTION LIMIT -1`)),
  },
];

/** How a product's suite reads and writes through the port, and what its write would change. */
interface Probes {
  read(): Promise<Answer>;
  /** A piece of the read's statement as pg_stat_activity shows it: background work may wait on the same lock. */
  readStatement: string;
  write(): Promise<Answer>;
  lockForWrite: { statement: string; params: unknown[] };
  lockTable: string;
  applied(): Promise<boolean>;
  /**
   * Whether the read is answered from what the module last published while its database cannot
   * answer (the alarm list: from its own bucket): 200, the same as before, instead of a 503.
   */
  readFallsBack?: boolean;
}

/**
 * The faults and locks every product is put through: its `modules` run in this process with the
 * `under` module's database a FaultyDatabase; `probe` prepares the product's probes once it runs.
 */
function databaseFaults(product: string, modules: string[], under: string, writeLock: string, probe: (database: FaultyDatabase, system: RunningSystem) => Promise<Probes>) {
  const unavailable = (a: Answer) => {
    expect(a.status).toBe(503);
    expect(a.body).toEqual({ result: 'Service Unavailable', hint: expect.any(String) });
  };
  /** What a read must answer while the database cannot: a 503, or what it answered before (readFallsBack). */
  let before: Answer | undefined;
  const readDuringFault = (s: Probes, a: Answer) => {
    if (!s.readFallsBack) return unavailable(a);
    // (marked: a write answered while the bucket had no leader reaches it only later)
    expect({ status: a.status, body: a.body, consistency: a.consistency }).toEqual({ status: 200, body: before!.body, consistency: 'local' });
  };

  describe(`${product} on Postgres (the ${under} database under test)`, () => {
    const database = new FaultyDatabase();
    let running: InProcess | undefined;
    let s: Probes;

    beforeAll(async () => {
      await database.create(allModules.find((m) => m.name === under)!.initSql);
      running = await startWith(modules, { module: under, url: database.url });
      s = await probe(database, running.system);
    }, 60000);

    afterAll(async () => {
      await running?.stop();
      await database.drop();
    }, 30000);

    describe(`${product}: a database that fails under a running system`, () => {
      for (const fault of connectionFaults) {
        test(`${fault.name} — writes answer 503 with the envelope, reads 503 or what was published, none hangs; after it is undone they answer again`, async () => {
          before = await s.read();
          expect(before.status).toBe(200);
          await fault.apply(database);
          try {
            // The first request may meet a connection the fault killed; the second opens a new one.
            const times: string[] = [];
            for (const probe of [s.read, s.read, s.write]) {
              const answer = await probe();
              if (probe === s.read) readDuringFault(s, answer);
              else unavailable(answer);
              expect(answer.ms).toBeLessThan(HANG_MS);
              times.push(`${answer.status} in ${Math.round(answer.ms)} ms`);
            }
            console.info(`${product}, ${fault.name}: read, read, write answered ${times.join(', ')}`);
          } finally {
            await fault.undo(database);
          }
          await eventually(async () => (await s.read()).status === 200, 10000, 'reads answer again');
        }, 30000);
      }

      test('an administrator terminates the connection of a statement in flight (57P01) — 503 with the envelope (or what was published), at once', async () => {
        // The read waits on the lock for its lock timeout at most: its backend is looked for on a
        // connection of its own, every few milliseconds. A machine too busy to find it in time
        // (the read has answered its lock timeout's 503 first) tries again.
        const watcher = new pg.Client({ connectionString: PG_ADMIN_URL });
        await watcher.connect();
        try {
          before = await s.read();
          for (let attempt = 1; ; attempt++) {
            const answer = await database.holding(s.lockTable, [], async () => {
              let done = false;
              const reading = s.read().finally(() => (done = true));
              let pid: number | undefined;
              while (!done && pid === undefined) {
                const { rows } = await watcher.query(`SELECT pid FROM pg_stat_activity WHERE usename = $1 AND wait_event_type = 'Lock' AND strpos(query, $2) > 0`, [database.role, s.readStatement]);
                pid = rows[0]?.pid;
              }
              const terminated = performance.now();
              if (pid !== undefined) await watcher.query('SELECT pg_terminate_backend($1)', [pid]);
              const answer = await reading;
              return pid === undefined ? undefined : { ...answer, sinceTermination: performance.now() - terminated };
            });
            if (!answer && attempt < 5) continue;
            expect(answer).toBeDefined();
            readDuringFault(s, answer!);
            console.info(`${product}, a statement's connection terminated: 503 ${Math.round(answer!.sinceTermination)} ms after pg_terminate_backend (attempt ${attempt})`);
            expect(answer!.sinceTermination).toBeLessThan(HANG_MS);
            break;
          }
        } finally {
          await watcher.end();
        }
        expect((await s.read()).status).toBe(200);
      }, 30000);

      test(`a write blocked by ${writeLock} — 503 after the lock timeout, none hangs; not applied once the lock is gone`, async () => {
        const answer = await database.holding(s.lockForWrite.statement, s.lockForWrite.params, () => s.write());
        unavailable(answer);
        console.info(`${product}, a write blocked by ${writeLock}: 503 in ${Math.round(answer.ms)} ms`);
        // It waited its lock timeout on the server, and no longer.
        expect(answer.ms).toBeGreaterThanOrEqual(DEFAULT_STATEMENT_TIMEOUT_MS);
        expect(answer.ms).toBeLessThan(HANG_MS);
        // The lock is released: nothing of the write is left running, and nothing was applied.
        expect(await database.leftRunning()).toBe(0);
        expect(await s.applied()).toBe(false);
      }, 30000);

      test('a write and a read blocked by a table lock — each answers after the lock timeout (the write 503, the read 503 or what it published), none hangs; the write not applied', async () => {
        before = await s.read();
        const [write, read] = await database.holding(s.lockTable, [], () => Promise.all([s.write(), s.read()]));
        console.info(`${product}, a table lock: write ${write.status} in ${Math.round(write.ms)} ms, read ${read.status} in ${Math.round(read.ms)} ms`);
        unavailable(write);
        readDuringFault(s, read);
        for (const answer of [write, read]) {
          expect(answer.ms).toBeGreaterThanOrEqual(DEFAULT_STATEMENT_TIMEOUT_MS);
          expect(answer.ms).toBeLessThan(HANG_MS);
        }
        expect(await database.leftRunning()).toBe(0);
        expect(await s.applied()).toBe(false);
        expect((await s.read()).status).toBe(200);
      }, 30000);
    });
  });
}

async function timed(send: () => Promise<{ status: number; body: unknown; headers?: Headers }>): Promise<Answer> {
  const started = performance.now();
  const { status, body, headers } = await send();
  return { status, body, ms: performance.now() - started, consistency: headers?.get('x-consistency') };
}

const dirs: string[] = [];
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), 'db-faults-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Plain databases of the test Postgres for the modules that are not under test. */
async function plainDatabases(modules: string[]) {
  const names: Record<string, string> = {};
  for (const module of modules) {
    const name = tag();
    await sql(`CREATE DATABASE ${name}`);
    names[module] = name;
    const initSql = allModules.find((m) => m.name === module)!.initSql;
    if (initSql) await loadInitSqlIfEmpty(urlOf(name), initSql);
  }
  return names;
}

const HOMESHOPPING = ['item', 'alarm', 'user'];
const MINIFB = ['account', 'feed', 'notification', 'stats'];

/**
 * `modules` running in this process: `under.module` on the database at `under.url`, every other
 * module on a plain database of the test Postgres. `stop` ends the system and drops those.
 */
async function startWith(modules: string[], under: { module: string; url: string }, log?: Logger) {
  const others = await plainDatabases(modules.filter((m) => m !== under.module));
  const dropOthers = async () => {
    for (const name of Object.values(others)) await sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
  const variable = (module: string) => `${module.toUpperCase()}_DATABASE_URL`;
  const env: Record<string, string> = { MODULES: modules.join(','), DATA_DIR: scratch(), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error', [variable(under.module)]: under.url };
  for (const [module, name] of Object.entries(others)) env[variable(module)] = urlOf(name);
  try {
    const system = await startSystem(parseConfig(env, allModules), allModules, { listen: false, log });
    return {
      system,
      async stop() {
        await system.stop();
        await dropOthers();
      },
    };
  } catch (error) {
    await dropOthers();
    throw error;
  }
}
type InProcess = Awaited<ReturnType<typeof startWith>>;

databaseFaults('homeshopping', HOMESHOPPING, 'alarm', 'a lock on the table that lets reads through', async (database, system) => {
  const ITEM = 77;
  const shop = shopClients(system, { faults: true });
  const alarm = (method = 'GET', body?: unknown) => timed(() => shop.alarm.call(method, '/', { token: T10, body }));
  return {
    read: () => alarm(),
    readStatement: 'order by "item_id" desc',
    write: () => alarm('POST', { item_id: ITEM }),
    // A new alarm is an insert, which no row lock holds: the table lock in EXCLUSIVE mode lets
    // reads through and holds every write.
    lockForWrite: { statement: 'LOCK TABLE alarm IN EXCLUSIVE MODE', params: [] },
    lockTable: 'LOCK TABLE alarm IN ACCESS EXCLUSIVE MODE',
    applied: async () => (await database.query(`SELECT count(*)::int AS n FROM alarm WHERE user_id = 10 AND item_id = $1`, [ITEM]))[0].n > 0,
    // The alarm list is answered from the alarms bucket while the database cannot answer.
    readFallsBack: true,
  };
});

databaseFaults('minifb', MINIFB, 'feed', 'a row lock (SELECT … FOR UPDATE)', async (database, system) => {
  let token = '';
  const client = minifbClient(handlerTransport((request) => system.handle(8000, request)), { faults: true });
  const send = (method: string, path: string, body?: unknown) => timed(() => client.call(method, path, { token, body }));
  expect((await send('POST', '/signup', { id: 'dora', pw: 'dora-password', name: 'Dora' })).status).toBe(201);
  token = (await send('POST', '/auth', { id: 'dora', pw: 'dora-password' })).body.accessToken;
  const created = await send('POST', '/post', { content: 'as it was' });
  expect(created.status).toBe(201);
  const postId = created.body.id;
  return {
    read: () => send('GET', `/post/${postId}`),
    readStatement: 'from "post_counted" where "id" = $1',
    write: () => send('PATCH', `/post/${postId}`, { content: 'changed' }),
    lockForWrite: { statement: 'SELECT id FROM post WHERE id = $1 FOR UPDATE', params: [postId] },
    lockTable: 'LOCK TABLE post IN ACCESS EXCLUSIVE MODE',
    applied: async () => (await database.query(`SELECT content FROM post WHERE id = $1`, [postId]))[0].content !== 'as it was',
  };
});

describe('a database unreachable or missing at start', () => {
  test('split: an account process whose database does not exist yet — starts, serves its documents, answers 503 for the rest, logs one line naming ACCOUNT_DATABASE_URL; once the database is created it migrates and answers', async () => {
    const nats = new PrivateNats();
    await nats.start();
    const database = tag();
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = Bun.spawn(['bun', join(import.meta.dir, '..', 'platform', 'main.ts')], {
      env: {
        ...process.env,
        MODULES: 'account',
        NATS_URL: nats.url,
        ACCOUNT_DATABASE_URL: urlOf(database),
        ACCOUNT_PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: scratch(),
        JWT_SECRET: 'db-faults-test-secret-0123456789-0123456789',
        MINIFB_ADMIN_ID: 'admin',
        MINIFB_ADMIN_PASSWORD: 'db-faults-admin-password',
        LOG_LEVEL: 'warn',
      },
      stdout: 'ignore',
      stderr: 'pipe',
    });
    let log = '';
    const reading = (async () => {
      const reader = proc.stderr.getReader();
      const decoder = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        log += decoder.decode(value, { stream: true });
      }
    })();
    const naming = () => log.split('\n').filter((line) => line.includes('ACCOUNT_DATABASE_URL'));
    const account = minifbClient(urlTransport(base), { faults: true });
    const signup = (id: string) => timed(() => account.call('POST', '/signup', { body: { id, pw: 'some-password', name: 'Someone' } }));
    try {
      await eventually(async () => (await account.call('GET', '/openapi.json')).status === 200, 30000, 'the process serves its document');
      expect((await account.call('GET', '/docs')).status).toBe(200);
      for (const answer of [await timed(() => account.call('GET', '/check/id/alice')), await signup('alice')]) {
        expect(answer.status).toBe(503);
        expect(answer.body).toEqual({ result: 'Service Unavailable', hint: expect.stringContaining('account database') });
        expect(answer.ms).toBeLessThan(HANG_MS);
      }
      expect(proc.exitCode).toBeNull();
      expect(naming()).toHaveLength(1);
      expect(JSON.parse(naming()[0]!)).toMatchObject({ level: 'error', variable: 'ACCOUNT_DATABASE_URL', msg: expect.stringContaining(`database "${database}" does not exist`) });

      await sql(`CREATE DATABASE ${database}`);
      await eventually(async () => (await account.call('GET', '/check/id/alice')).status === 200, 20000, 'the account process heals');
      expect((await signup('alice')).status).toBe(201);
      // Migrated and started: the administrator was created, the accounts are relayed.
      expect((await sql(`SELECT count(*)::int AS n FROM pg_database WHERE datname = $1`, [database]))[0].n).toBe(1);
      expect(naming()).toHaveLength(1);
    } finally {
      proc.kill('SIGTERM');
      expect(await proc.exited).toBe(0);
      await reading;
      await nats.destroy();
      await sql(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  }, 90000);

  test('homeshopping in process: the alarm database refuses connections at start — the other ports serve, alarm answers 503 but its documents; when the database answers it starts and serves', async () => {
    const database = new FaultyDatabase();
    await database.create(allModules.find((m) => m.name === 'alarm')!.initSql);
    await database.forwarder.stop();
    let running: InProcess | undefined;
    try {
      running = await startWith(HOMESHOPPING, { module: 'alarm', url: database.url }, quiet);
      const system = running.system;
      const shop = shopClients(system, { faults: true });
      const get = (api: ShopApi, path: string) => timed(() => shop[api].call('GET', path, { token: T10 }));
      const refused = await get('alarm', '/');
      expect(refused).toMatchObject({ status: 503, body: { result: 'Service Unavailable', hint: expect.stringContaining('alarm database') } });
      expect(refused.ms).toBeLessThan(HANG_MS);
      expect((await get('alarm', '/openapi.json')).status).toBe(200);
      expect((await get('user', '/')).status).toBe(200);
      expect(system.waiting()).toEqual(['alarm']);

      await database.forwarder.start();
      await eventually(async () => (await get('alarm', '/')).status === 200, 20000, 'the alarm module starts');
      expect(system.waiting()).toEqual([]);
      const set = await shop.alarm.call('POST', '/', { token: T10, body: { item_id: 50 } });
      expect(set.status).toBe(201);
      // Its document now describes its routes; its outbox relays (the item API sees the alarm).
      expect(Object.keys((await shop.alarm.call('GET', '/openapi.json')).body.paths)).toContain('/');
      expect((await get('item', '/50')).body.payload.is_alarm_set).toBe(true);
    } finally {
      await running?.stop();
      await database.drop();
    }
  }, 90000);

  test('homeshopping in process: the alarm database appears without its tables — one line says the module cannot start on it (once), 503 goes on; once init_database.sql is loaded it starts', async () => {
    const lines: { level: string; msg: string }[] = [];
    const capture = (): Logger => ({
      debug: (msg) => void lines.push({ level: 'debug', msg }),
      info: (msg) => void lines.push({ level: 'info', msg }),
      warn: (msg) => void lines.push({ level: 'warn', msg }),
      error: (msg) => void lines.push({ level: 'error', msg }),
      child: () => capture(),
    });
    const missing = tag();
    let running: InProcess | undefined;
    try {
      running = await startWith(HOMESHOPPING, { module: 'alarm', url: urlOf(missing) }, capture());
      const system = running.system;
      const { alarm } = shopClients(system, { faults: true });
      const alarms = () => alarm.call('GET', '/', { token: T10 });
      const errors = () => lines.filter((l) => l.level === 'error').map((l) => l.msg);
      expect(errors()).toEqual([expect.stringContaining('ALARM_DATABASE_URL')]);

      await sql(`CREATE DATABASE ${missing}`); // empty: the alarm table's migration cannot run
      await eventually(() => errors().length === 2, 10000, 'the module says it cannot start');
      expect(errors()[1]).toContain('cannot start on it');
      expect((await alarms()).status).toBe(503);

      const client = new pg.Client({ connectionString: urlOf(missing) });
      await client.connect();
      try {
        await loadDump(dumpRunner(client), allModules.find((m) => m.name === 'alarm')!.initSql!);
      } finally {
        await client.end();
      }
      await eventually(async () => (await alarms()).status === 200, 20000, 'the alarm module starts');
      // The same failure, tried again and again, was said once.
      expect(errors()).toHaveLength(2);
    } finally {
      await running?.stop();
      await sql(`DROP DATABASE IF EXISTS ${missing} WITH (FORCE)`);
    }
  }, 90000);

  test('minifb in process: the feed database missing at start — accounts serve on the shared port, the feed routes answer 503; once the database exists the feed serves', async () => {
    const missing = tag();
    let running: InProcess | undefined;
    try {
      running = await startWith(MINIFB, { module: 'feed', url: urlOf(missing) }, quiet);
      const system = running.system;
      const client = minifbClient(handlerTransport((request) => system.handle(8000, request)), { faults: true });
      const send = (method: string, path: string, body?: unknown, token?: string) => timed(() => client.call(method, path, { token, body }));
      expect((await send('POST', '/signup', { id: 'erin', pw: 'erin-password', name: 'Erin' })).status).toBe(201);
      const token = (await send('POST', '/auth', { id: 'erin', pw: 'erin-password' })).body.accessToken as string;
      expect((await send('GET', '/me', undefined, token)).status).toBe(200);
      expect((await send('GET', '/notification', undefined, token)).status).toBe(200);
      for (const [method, path] of [['GET', '/post'], ['POST', '/post'], ['GET', '/post/1/comment'], ['GET', '/timeline']] as const) {
        const answer = await send(method, path, method === 'POST' ? { content: 'hello' } : undefined, token);
        expect(`${method} ${path} ${answer.status} ${answer.body?.hint}`).toContain(`${method} ${path} 503 the feed database`);
      }
      expect((await send('GET', '/openapi.json')).status).toBe(200);

      await sql(`CREATE DATABASE ${missing}`);
      await eventually(async () => (await send('GET', '/post', undefined, token)).status === 200, 20000, 'the feed starts');
      expect((await send('POST', '/post', { content: 'hello' }, token)).status).toBe(201);
    } finally {
      await running?.stop();
      await sql(`DROP DATABASE IF EXISTS ${missing} WITH (FORCE)`);
    }
  }, 90000);
});
