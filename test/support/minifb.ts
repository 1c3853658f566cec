/**
 * minifb in this process, for black-box tests: its four modules, the in-process bus, no port
 * bound; requests go through the port's handler (metering included) as a client's would.
 *
 * - `pglite`: embedded databases under a fresh temporary DATA_DIR, removed on stop.
 * - `pg`: four fresh databases on the test Postgres (`t_<random>_<module>`), dropped on stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { allModules } from '../../modules/index.ts';
import { parseConfig } from '../../platform/config.ts';
import { startSystem, type RunningSystem } from '../../platform/runtime.ts';
import { PG_ADMIN_URL } from './shop.ts';

export type Backend = 'pglite' | 'pg';
export const MINIFB_MODULES = allModules.filter((m) => m.product === 'minifb').map((m) => m.name);
export const ADMIN = { id: 'admin', pw: 'minifb-admin-dev-password' };
export const PASSWORD = 'correct horse battery';

export interface Answer {
  status: number;
  body: any;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  /** JSON-encoded unless `raw` is given. */
  body?: unknown;
  raw?: string;
  /** An access (or refresh) token; sent as `Authorization: Bearer <token>`. */
  token?: string;
  headers?: Record<string, string>;
}

export interface Minifb {
  system: RunningSystem;
  port: number;
  /** Name of each module's Postgres database (pg backend only). */
  databases: Record<string, string>;
  /** Every answer given so far, for checks across a whole suite. */
  seen: { method: string; path: string; status: number; body: unknown }[];
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  /** Signs a user up (password PASSWORD) and logs them in; returns their access token. */
  user(id: string, profile?: { name?: string; nickname?: string | null; bio?: string | null }): Promise<string>;
  login(id: string, pw?: string): Promise<{ accessToken: string; refreshToken: string; passwordChangeRequired: boolean }>;
  stop(): Promise<void>;
}

async function admin(statement: string) {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

function urlOf(database: string): string {
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function startMinifb(opts: { backend: Backend; env?: Record<string, string> }): Promise<Minifb> {
  const dataDir = mkdtempSync(join(tmpdir(), 'minifb-'));
  const env: Record<string, string> = {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    MODULES: MINIFB_MODULES.join(','),
    DATA_DIR: dataDir,
    ...opts.env,
  };
  const databases: Record<string, string> = {};
  const cleanUp = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    for (const database of Object.values(databases)) await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  };

  let system: RunningSystem;
  try {
    if (opts.backend === 'pg') {
      const prefix = `t_${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
      for (const module of MINIFB_MODULES) {
        databases[module] = `${prefix}_${module}`;
        await admin(`CREATE DATABASE "${databases[module]}"`);
        env[`${module.toUpperCase()}_DATABASE_URL`] = urlOf(databases[module]!);
      }
    }
    system = await startSystem(parseConfig(env, allModules), allModules, { listen: false });
  } catch (error) {
    await cleanUp();
    throw error;
  }

  const port = allModules.find((m) => m.name === 'account')!.defaultPort;
  const seen: Minifb['seen'] = [];
  const call = async (method: string, path: string, options: CallOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    let body: string | undefined = options.raw;
    if (body === undefined && options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const res = await system.handle(port, new Request(`http://localhost${path}`, { method, headers, body }));
    const text = await res.text();
    const json = (res.headers.get('content-type') ?? '').includes('application/json') ? JSON.parse(text) : text;
    seen.push({ method, path, status: res.status, body: structuredClone(json) });
    return { status: res.status, body: json, text, headers: res.headers };
  };
  const login = async (id: string, pw = PASSWORD) => {
    const res = await call('POST', '/auth', { body: { id, pw } });
    if (res.status !== 200) throw new Error(`login of ${id} answered ${res.status} ${res.text}`);
    return res.body;
  };
  let stopped: Promise<void> | undefined;
  return {
    system,
    port,
    databases,
    seen,
    call,
    login,
    async user(id, profile = {}) {
      const res = await call('POST', '/signup', { body: { id, pw: PASSWORD, name: profile.name ?? `User ${id}`.slice(0, 16), ...profile } });
      if (res.status !== 201) throw new Error(`sign-up of ${id} answered ${res.status} ${res.text}`);
      return (await login(id)).accessToken;
    },
    stop: () => (stopped ??= system.stop().finally(cleanUp)),
  };
}

/** Polls `probe` until it returns a truthy value or `ms` pass; returns the value. */
export async function eventually<T>(probe: () => Promise<T> | T, ms = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const value = await probe();
    if (value) return value;
    last = value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms (last: ${JSON.stringify(last)})`);
    await Bun.sleep(20);
  }
}
