/**
 * The split topology without Docker — what compose.yaml does, for development and tests:
 * one database per domain on a given Postgres (created, and loaded with the domain's
 * init_database.sql when empty, as the Postgres image's entrypoint would), one process per
 * domain (two for the feed) against a given NATS with the same variables compose sets, and for
 * minifb the reverse proxy that gives its processes one base URL, as nginx does in compose.
 *
 *   bun run start:split                 # Postgres and NATS on this machine
 *   SPLIT_PG_URL=postgres://u:p@host:5432/postgres NATS_URL=nats://host:4222 bun run start:split
 *
 * Variables: SPLIT_PG_URL (admin URL, default postgres://postgres@127.0.0.1:5432/postgres),
 * SPLIT_DB_PREFIX (database names <prefix>_<module>, default "moa"), NATS_URL (default
 * nats://127.0.0.1:4222; several, comma-separated, for a cluster), NATS_REPLICAS (default 1),
 * MODULES (default all), SPLIT_REPLICAS (processes per module,
 * default "feed=2"), <MODULE>_PORT: the module's first process (each further one 10 above the
 * one before), HOST: what every process and the proxy bind (default 0.0.0.0); for minifb
 * JWT_SECRET (default: one kept in DATA_DIR/jwt-secret), MINIFB_ADMIN_ID and
 * MINIFB_ADMIN_PASSWORD (default: the development administrator) and MINIFB_PORT (the proxy,
 * default 8000). Every other variable (SHUTDOWN_GRACE_MS, CORS_ORIGINS, …) reaches every process.
 *
 * SIGTERM or SIGINT stops it gracefully: the proxies stop accepting and finish what they carry
 * while every process stops as platform/main.ts does.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { allModules } from '../../modules/index.ts';
import { loadInitSqlIfEmpty } from '../data/db.ts';
import { createLogger } from '../observability/log.ts';
import type { ModuleDefinition } from '../module.ts';
import { startProxy, type ProxyRoute } from './proxy.ts';

export interface SplitProcess {
  module: string;
  /** `feed`, or `feed-2` for the second process of the feed. */
  name: string;
  port: number;
  env: Record<string, string>;
}

/** What every minifb process must share (compose sets the same). */
export interface MinifbSecrets {
  jwtSecret: string;
  adminId: string;
  adminPassword: string;
}

export interface SplitOptions {
  pgUrl: string;
  dbPrefix: string;
  natsUrl: string;
  /** NATS_REPLICAS of every process (3 on a 3-node cluster); default 1. */
  natsReplicas?: number;
  modules: string[];
  /**
   * Port by process name: `feed` is the module's first process, `feed-2` the second; a process
   * not named is 10 above the one before it (the first: the module's split port).
   */
  ports?: Record<string, number>;
  /** Processes per module; default 1. */
  replicas?: Record<string, number>;
  /** Required when a minifb module is planned. */
  minifb?: MinifbSecrets;
  /** Extra variables for every process. */
  env?: Record<string, string>;
}

/** Processes per module of the split topology, unless SPLIT_REPLICAS says otherwise. */
export const DEFAULT_REPLICAS: Record<string, number> = { feed: 2 };

/** The database URL of one module's database on the admin URL's server. */
export function databaseUrl(adminUrl: string, database: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

const definition = (name: string): ModuleDefinition => {
  const def = allModules.find((m) => m.name === name);
  if (!def) throw new Error(`unknown module ${name}`);
  return def;
};

/** Creates each module's database if missing and loads its init_database.sql when empty. */
export async function prepareDatabases(options: Pick<SplitOptions, 'pgUrl' | 'dbPrefix' | 'modules'>) {
  const admin = new pg.Client({ connectionString: options.pgUrl });
  await admin.connect();
  try {
    for (const name of options.modules) {
      const database = `${options.dbPrefix}_${name}`;
      const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
      if (!rowCount) await admin.query(`CREATE DATABASE "${database.replaceAll('"', '')}"`);
      const def = definition(name);
      if (def.initSql) await loadInitSqlIfEmpty(databaseUrl(options.pgUrl, database), def.initSql);
    }
  } finally {
    await admin.end();
  }
}

/** The processes of the split topology, with exactly the variables compose.yaml sets. */
export function planSplit(options: SplitOptions): SplitProcess[] {
  const plan = options.modules.flatMap((module) => {
    const def = definition(module);
    const upper = module.toUpperCase();
    const count = options.replicas?.[module] ?? 1;
    const first = options.ports?.[module] ?? def.splitPort ?? def.defaultPort;
    return Array.from({ length: count }, (_, i): SplitProcess => {
      const name = i === 0 ? module : `${module}-${i + 1}`;
      const port = options.ports?.[name] ?? first + 10 * i;
      const env: Record<string, string> = {
        ...options.env,
        MODULES: module,
        NATS_URL: options.natsUrl,
        NATS_REPLICAS: String(options.natsReplicas ?? 1),
        // Processes of one module share its database.
        [`${upper}_DATABASE_URL`]: databaseUrl(options.pgUrl, `${options.dbPrefix}_${module}`),
        [`${upper}_PORT`]: String(port),
      };
      if (def.product === 'minifb') {
        if (!options.minifb) throw new Error(`module ${module} needs the minifb secrets (JWT_SECRET and the administrator)`);
        env.JWT_SECRET = options.minifb.jwtSecret;
        env.MINIFB_ADMIN_ID = options.minifb.adminId;
        env.MINIFB_ADMIN_PASSWORD = options.minifb.adminPassword;
      }
      return { module, name, port, env };
    });
  });
  for (const p of plan) {
    const same = plan.filter((q) => q.port === p.port && p.port !== 0);
    if (same.length > 1) throw new Error(`processes ${same.map((q) => q.name).join(' and ')} would share port ${p.port}: set their <MODULE>_PORT apart`);
  }
  return plan;
}

/** Where a proxy reaches processes that bind `host`: that address, or this machine's loopback. */
export const upstreamHost = (host: string) => (host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host);

/** What `bun run start:split` runs, read from its environment (the variables above). */
export function launcherPlan(env: Record<string, string | undefined>, minifb: MinifbSecrets) {
  const modules = (env.MODULES ?? allModules.map((m) => m.name).join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  const ports: Record<string, number> = {};
  for (const m of modules) {
    const raw = env[`${m.toUpperCase()}_PORT`]?.trim();
    if (!raw) continue;
    if (!/^[0-9]{1,5}$/.test(raw) || Number(raw) > 65535) throw new Error(`${m.toUpperCase()}_PORT: "${raw}" is not a port`);
    ports[m] = Number(raw);
  }
  const host = env.HOST?.trim() || '0.0.0.0';
  const options: SplitOptions = {
    pgUrl: env.SPLIT_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    dbPrefix: env.SPLIT_DB_PREFIX ?? 'moa',
    natsUrl: env.NATS_URL ?? 'nats://127.0.0.1:4222',
    natsReplicas: env.NATS_REPLICAS?.trim() ? Number(env.NATS_REPLICAS) : undefined,
    modules,
    ports,
    replicas: parseReplicas(env.SPLIT_REPLICAS),
    minifb,
  };
  const processes = planSplit(options);
  // A proxy for each product whose modules run apart behind one base URL (minifb).
  const products = [...new Set(processes.map((p) => definition(p.module)).filter((d) => d.splitPort !== undefined).map((d) => d.product))];
  const proxies = products.map((product) => {
    const port = Number(env[`${product.toUpperCase()}_PORT`] ?? allModules.find((m) => m.product === product)!.defaultPort);
    const clash = processes.find((p) => p.port === port);
    if (clash) throw new Error(`${product.toUpperCase()}_PORT: the ${product} proxy and process ${clash.name} would share port ${port}`);
    return { product, port, hostname: host, ...planProxy(processes, product, upstreamHost(host)) };
  });
  return { options, processes, proxies };
}

/**
 * The proxy in front of a product's processes: each module's path prefixes to its processes,
 * anything else to the product's first module (it answers the product's 404 and 405).
 */
export function planProxy(processes: SplitProcess[], product: string, host = '127.0.0.1'): { routes: ProxyRoute[]; fallback: string[] } {
  const modules = allModules.filter((m) => m.product === product && processes.some((p) => p.module === m.name));
  const upstreams = (module: string) => processes.filter((p) => p.module === module).map((p) => `http://${host}:${p.port}`);
  return {
    routes: modules.flatMap((m) => (m.routes ?? []).map((prefix) => ({ prefix, upstreams: upstreams(m.name) }))),
    fallback: modules[0] ? upstreams(modules[0].name) : [],
  };
}

/** Starts one process of the plan; its output goes to this terminal, prefixed logs are JSON. */
export function spawnProcess(p: SplitProcess, extraEnv: Record<string, string> = {}) {
  return Bun.spawn(['bun', join(import.meta.dir, '..', 'main.ts')], {
    env: { ...process.env, ...p.env, ...extraEnv },
    stdout: 'inherit',
    stderr: 'inherit',
  });
}

/** JWT_SECRET, or one kept in `dir/jwt-secret` so that tokens outlive a restart of the launcher. */
export function splitJwtSecret(dir: string): string {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  const file = join(dir, 'jwt-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, `${secret}\n`, { mode: 0o600 });
  return secret;
}

/** `feed=2,stats=1` → { feed: 2, stats: 1 }. */
export function parseReplicas(text: string | undefined): Record<string, number> {
  if (text === undefined) return DEFAULT_REPLICAS;
  return Object.fromEntries(
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((pair) => {
        const [module, count] = pair.split('=').map((s) => s.trim());
        if (!module || !/^[1-9][0-9]?$/.test(count ?? '')) throw new Error(`SPLIT_REPLICAS: "${pair}" is not <module>=<1..99>`);
        return [module, Number(count)];
      }),
  );
}

if (import.meta.main) {
  const log = createLogger({ component: 'split' });
  const env = process.env;
  const dataDir = env.DATA_DIR ?? './.data/split';
  let launch: ReturnType<typeof launcherPlan>;
  try {
    launch = launcherPlan(env, {
      jwtSecret: splitJwtSecret(dataDir),
      adminId: env.MINIFB_ADMIN_ID ?? 'admin',
      adminPassword: env.MINIFB_ADMIN_PASSWORD ?? 'minifb-admin-dev-password',
    });
  } catch (error) {
    console.error(`cannot start: ${(error as Error).message}`);
    process.exit(2);
  }
  await prepareDatabases(launch.options);
  const children = launch.processes.map((p) => {
    log.info('starting', { process: p.name, port: p.port });
    return spawnProcess(p, { DATA_DIR: dataDir });
  });
  let proxies: ReturnType<typeof startProxy>[] = [];
  try {
    proxies = launch.proxies.map(({ product, ...proxy }) => startProxy({ ...proxy, log: log.child({ product }) }));
  } catch (error) {
    console.error(`cannot start: ${(error as Error).message}`);
    for (const c of children) c.kill('SIGTERM');
    await Promise.all(children.map((c) => c.exited));
    process.exit(1);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    // The proxies stop accepting and finish what they carry while the processes drain theirs.
    for (const p of proxies) void p.stop();
    for (const c of children) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const codes = await Promise.all(children.map((c) => c.exited));
  await Promise.all(proxies.map((p) => p.stop()));
  process.exit(codes.some((c) => c !== 0 && c !== 143) ? 1 : 0);
}
