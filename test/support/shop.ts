/**
 * The homeshopping system in this process, for black-box tests: every module, the in-process
 * bus, no port bound; requests go through the port's handler (`system.handle`: the body limit and
 * CORS of the port, then `app.handle(new Request(...))` of the app that serves
 * the module's port). Each API is a client of the one shape both products' harnesses have
 * (`shop.item.call(method, path, options)`, test/support/client.ts).
 *
 * - `pglite`: embedded databases under a fresh temporary DATA_DIR, removed on stop.
 * - `pg`: three fresh databases on the test Postgres (`t_<random>_<module>`), dropped on stop.
 *
 * `data: 'project'` loads the project's own init_database.sql files (the default); `data: 'kit'`
 * loads the kit's original files from ../shared — on Postgres with psql, exactly as the Postgres
 * image's entrypoint would, on PGlite through the embedded loader.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { allModules } from '../../modules/index.ts';
import { parseConfig, type Config } from '../../platform/config.ts';
import { loadInitSqlIfEmpty } from '../../platform/data/db.ts';
import type { ModuleDefinition } from '../../platform/module.ts';
import { startSystem, type RunningSystem } from '../../platform/runtime.ts';
import { apiClient, handlerTransport, inspection, once, type ApiClient, type Transport } from './client.ts';

export type Backend = 'pglite' | 'pg';
export type ShopData = 'project' | 'kit';
export type ShopApi = 'item' | 'alarm' | 'user';

/** User 10 of the sample data (and of the kit's): the token the harness lists the users with. */
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';

/**
 * One homeshopping API as a client drives it: a token goes in `USER-TOKEN`, and every answer is
 * checked where it arrives — no 5xx (none are checked in a fault suite, `faults`: a 5xx is what
 * it asserts), and the status and body the port's own OpenAPI document declares for the route.
 */
export function shopClient(api: ShopApi, transport: Transport, { faults = false } = {}): ApiClient {
  const document = once(async () => (await transport(new Request('http://localhost/openapi.json'))).json());
  return apiClient(transport, { api, auth: (token) => ({ 'USER-TOKEN': token }), inspect: inspection({ document, faults }) });
}

/** The three APIs, each its client: what the in-process shop and the split one both are. */
export type ShopApis = Record<ShopApi, ApiClient>;

/**
 * The clients of a homeshopping system running in this process, through its ports' handlers;
 * `ports` says where each API is served (the modules' default ports unless given).
 */
export function shopClients(system: RunningSystem, options: { ports?: Record<string, number>; faults?: boolean } = {}): ShopApis {
  const client = (api: ShopApi) => {
    const port = options.ports?.[api] ?? allModules.find((m) => m.name === api)!.defaultPort;
    if (!system.apps.get(port)) throw new Error(`no app serves ${api} (port ${port})`);
    return shopClient(api, handlerTransport((request) => system.handle(port, request)), options);
  };
  return { item: client('item'), alarm: client('alarm'), user: client('user') };
}

/** Every listed user's token by id, as the user API lists them (to user 10). */
export async function userTokens(user: ApiClient): Promise<Map<number, string>> {
  const listed = await user.call('GET', '/', { token: T10 });
  if (listed.status !== 200) throw new Error(`the user list answered ${listed.status} ${listed.text}`);
  return new Map(listed.body.payload.map((u: { id: number; access_token: string }) => [u.id, u.access_token]));
}

export interface Shop extends ShopApis {
  system: RunningSystem;
  /** The port each module is served on (the key of `system.apps`). */
  ports: Record<string, number>;
  /** Name of each module's Postgres database (pg backend only). */
  databases: Record<string, string>;
  stop(): Promise<void>;
}

export const REPO_ROOT = join(import.meta.dir, '..', '..');
/** The shared folder next to the repository; holds the kit's original files. */
/** The project's shared folder (contracts, the kit's files): next to the clone, or where SHARED_DIR says (.ci/run sets it). */
export const SHARED_DIR = process.env.SHARED_DIR ?? join(REPO_ROOT, '..', 'shared');
export const KIT_DIR = join(SHARED_DIR, 'fixtures', 'homeshopping');
export const kitFile = (module: string) => join(KIT_DIR, module, 'init_database.sql');

export const PG_ADMIN_URL = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs one statement on the test Postgres as its administrator (CREATE/DROP DATABASE). */
export async function admin(statement: string) {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/** The URL of `database` on the test Postgres. */
export function urlOf(database: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

/**
 * Runs `during` while `database` of the test Postgres is gone from under a running system: it
 * takes no new connections and its open ones are ended. Afterwards it takes connections again.
 */
export async function whileDatabaseDown<T>(database: string, during: () => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS false`);
    await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
    return await during();
  } finally {
    await client.query(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS true`);
    await client.end();
  }
}

/** `psql -q -v ON_ERROR_STOP=1 -h <host> -U <user> -d <db> -f <file>`, as the Postgres image runs it. */
function psqlLoad(database: string, file: string) {
  const url = new URL(PG_ADMIN_URL);
  const args = ['psql', '-q', '-v', 'ON_ERROR_STOP=1', '-h', url.hostname, '-U', decodeURIComponent(url.username || 'postgres')];
  if (url.port) args.push('-p', url.port);
  args.push('-d', database, '-f', file);
  const env: Record<string, string | undefined> = { ...process.env };
  if (url.password) env.PGPASSWORD = decodeURIComponent(url.password);
  const run = Bun.spawnSync(args, { env, stdout: 'pipe', stderr: 'pipe' });
  if (run.exitCode !== 0) throw new Error(`psql failed on ${file}: ${run.stderr.toString()}`);
}

export async function startShop(opts: { backend: Backend; data?: ShopData }): Promise<Shop> {
  const { backend, data = 'project' } = opts;
  if (data === 'kit' && !existsSync(KIT_DIR)) throw new Error(`the kit's files are not at ${KIT_DIR}`);

  const env: Record<string, string> = { LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error', MODULES: 'item,alarm,user' };
  let dataDir: string | undefined;
  const databases: Record<string, string> = {};
  const shopModules = allModules.filter((d) => d.product === 'homeshopping');
  let definitions: readonly ModuleDefinition[] = allModules;

  const cleanUp = async () => {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    for (const database of Object.values(databases)) await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  };

  let system: RunningSystem;
  let config: Config;
  try {
    // Postgres needs no DATA_DIR; it still points at a scratch folder, never at ./.data.
    dataDir = mkdtempSync(join(tmpdir(), 'shop-'));
    env.DATA_DIR = dataDir;
    if (backend === 'pglite') {
      // The embedded mode loads a module's initSql into its new database: give it the kit's.
      if (data === 'kit') definitions = allModules.map((d) => (d.product === 'homeshopping' ? { ...d, initSql: readFileSync(kitFile(d.name), 'utf8') } : d));
    } else {
      const prefix = `t_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
      for (const def of shopModules) {
        const database = `${prefix}_${def.name}`;
        await admin(`CREATE DATABASE "${database}"`);
        databases[def.name] = database;
        if (data === 'kit') psqlLoad(database, kitFile(def.name));
        else if (def.initSql) await loadInitSqlIfEmpty(urlOf(database), def.initSql);
        env[`${def.name.toUpperCase()}_DATABASE_URL`] = urlOf(database);
      }
    }
    config = parseConfig(env, definitions);
    system = await startSystem(config, definitions, { listen: false });
  } catch (error) {
    await cleanUp();
    throw error;
  }

  const ports = Object.fromEntries(config.modules.map((m) => [m.name, m.port]));
  let stopped: Promise<void> | undefined;
  return {
    ...shopClients(system, { ports }),
    system,
    ports,
    databases,
    stop: () => (stopped ??= system.stop().finally(cleanUp)),
  };
}
