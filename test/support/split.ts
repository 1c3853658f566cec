/**
 * The split topology for tests: a private nats-server (random port, temp store — never the
 * machine's shared one, so tests may stop it), fresh Postgres databases per domain, and one real
 * process per domain started with the same variables compose sets (platform/dev/split.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { planSplit, prepareDatabases, type SplitProcess } from '../../platform/dev/split.ts';

export const PG_ADMIN = process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const root = join(import.meta.dir, '..', '..');

export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Polls `probe` until it returns a truthy value or `ms` pass; returns the value. */
export async function eventually<T>(probe: () => Promise<T> | T, ms = 10000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
      last = v;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${ms} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await Bun.sleep(25);
  }
}

/** A nats-server of our own, restartable on the same port and store. */
export class PrivateNats {
  readonly port = freePort();
  readonly url = `nats://127.0.0.1:${this.port}`;
  private storeDir = mkdtempSync(join(tmpdir(), 'nats-'));
  private proc: ReturnType<typeof Bun.spawn> | undefined;

  async start({ emptyStore = false } = {}) {
    if (emptyStore) {
      rmSync(this.storeDir, { recursive: true, force: true });
      this.storeDir = mkdtempSync(join(tmpdir(), 'nats-'));
    }
    this.proc = Bun.spawn(['/usr/sbin/nats-server', '-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir], {
      stdout: 'ignore',
      stderr: 'ignore',
    });
    await eventually(async () => {
      const { connect } = await import('nats');
      const nc = await connect({ servers: this.url, timeout: 500 });
      await nc.close();
      return true;
    }, 10000, 'nats-server up');
  }

  async stop() {
    this.proc?.kill('SIGKILL');
    await this.proc?.exited;
    this.proc = undefined;
  }

  async destroy() {
    await this.stop();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}

export interface DomainProcess {
  plan: SplitProcess;
  port: number;
  proc?: ReturnType<typeof Bun.spawn>;
}

/** Three (or more) domain processes over one NATS, each with its own fresh database. */
export class SplitShop {
  readonly prefix = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'split-'));
  readonly processes = new Map<string, DomainProcess>();
  private starts = 0;

  constructor(
    readonly nats: { url: string },
    readonly modules = ['item', 'alarm', 'user'],
    private readonly extraEnv: Record<string, string> = {},
  ) {}

  async start() {
    await prepareDatabases({ pgUrl: PG_ADMIN, dbPrefix: this.prefix, modules: this.modules });
    const ports = Object.fromEntries(this.modules.map((m) => [m, freePort()]));
    for (const plan of planSplit({ pgUrl: PG_ADMIN, dbPrefix: this.prefix, natsUrl: this.nats.url, modules: this.modules, ports })) {
      this.processes.set(plan.module, { plan, port: ports[plan.module]! });
    }
    await Promise.all(this.modules.map((m) => this.startProcess(m)));
  }

  url(module: string, path = '/') {
    return `http://127.0.0.1:${this.processes.get(module)!.port}${path}`;
  }

  databaseUrl(module: string) {
    return this.processes.get(module)!.plan.env[`${module.toUpperCase()}_DATABASE_URL`]!;
  }

  async startProcess(module: string) {
    const p = this.processes.get(module)!;
    // TEST_CHILD_LOG_DIR=dir keeps each process's debug log in dir/<module>-<n>.log.
    const logDir = process.env.TEST_CHILD_LOG_DIR;
    const level = logDir ? 'debug' : (process.env.TEST_LOG_LEVEL ?? 'error');
    p.proc = Bun.spawn(['bun', join(root, 'platform/main.ts')], {
      env: { ...process.env, ...p.plan.env, ...this.extraEnv, DATA_DIR: this.dataDir, LOG_LEVEL: level, HOST: '127.0.0.1' },
      stdout: 'inherit',
      stderr: logDir ? Bun.file(join(logDir, `${module}-${++this.starts}.log`)) : 'inherit',
    });
    await eventually(async () => (await fetch(this.url(module, '/openapi.json'))).ok, 30000, `${module} process up`);
  }

  async kill(module: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') {
    const p = this.processes.get(module)!;
    p.proc?.kill(signal);
    await p.proc?.exited;
    p.proc = undefined;
  }

  async stop() {
    await Promise.all([...this.processes.keys()].map((m) => this.kill(m, 'SIGTERM')));
    const admin = new pg.Client({ connectionString: PG_ADMIN });
    await admin.connect();
    try {
      for (const m of this.modules) await admin.query(`DROP DATABASE IF EXISTS "${this.prefix}_${m}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
