/**
 * minifb for black-box tests, in three shapes that answer the same client:
 *
 * - `pglite`: its four modules in this process on embedded databases (a fresh DATA_DIR), the
 *   in-process bus, no port bound: requests go through the port's handler, metering included;
 * - `pg`: the same on four fresh Postgres databases (`t_<random>_<module>`);
 * - `split`: one real process per module (two for the feed) on fresh Postgres databases, a
 *   private nats-server, and the local reverse proxy in front — what compose runs; requests go
 *   over HTTP to the proxy's port.
 */
import { afterAll, beforeAll } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allModules } from '../../modules/index.ts';
import { NatsBus } from '../../platform/bus/nats/index.ts';
import type { Bus } from '../../platform/bus/types.ts';
import { parseConfig } from '../../platform/config.ts';
import { createLogger } from '../../platform/observability/log.ts';
import { startProxy } from '../../platform/dev/proxy.ts';
import type { Clock } from '../../platform/clock.ts';
import { startSystem, type RunningSystem } from '../../platform/runtime.ts';
import { planProxy, planSplit, prepareDatabases, type SplitProcess } from '../../platform/dev/split.ts';
import { admin, PG_ADMIN_URL, urlOf } from './shop.ts';
import { urlTransport } from '../conformance/kit.ts';
import { answerProblem } from '../conformance/openapi.ts';
import { apiClient, handlerTransport, inspection, once, type Answer, type ApiClient, type CallOptions, type Exchange, type Transport } from './client.ts';
import { freePort, leaseRunOut, PrivateNats } from './split.ts';
import { seedAccounts } from './seed.ts';

export type Backend = 'pglite' | 'pg' | 'split';
export const MINIFB_MODULES = allModules.filter((m) => m.product === 'minifb').map((m) => m.name);
export const ADMIN = { id: 'admin', pw: 'minifb-admin-dev-password' };
export const PASSWORD = 'correct horse battery';
const DEFAULT_SECRET = 'split-test-secret-0123456789-0123456789-abc';

/** `token` is an access (or refresh) token, sent as `Authorization: Bearer <token>`. */
export type { Answer, CallOptions };

/** A process of the split topology. */
export interface MinifbProcess {
  plan: SplitProcess;
  proc?: ReturnType<typeof Bun.spawn>;
  kill(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
  start(): Promise<void>;
}

export interface Minifb {
  backend: Backend;
  /** The system in this process (pglite and pg only). */
  system?: RunningSystem;
  /** The bus the modules talk over: the in-process one, or a connection to the same NATS. */
  bus: Bus;
  /** The base port every module is served on (in process), or the proxy's (split). */
  port: number;
  /** Name of each module's Postgres database (pg and split). */
  databases: Record<string, string>;
  /** The split topology's processes by name (`feed-2`); empty otherwise. */
  processes: Map<string, MinifbProcess>;
  /** The split topology's private nats-server. */
  nats?: PrivateNats;
  /** Split only: starts one more process of `module` (same database and NATS; the proxy does not route to it). */
  addProcess(module: string): Promise<MinifbProcess>;
  /** Sends a request as it is, unchecked (for the conformance kit): to the port's handler, or over HTTP to the proxy. */
  transport: Transport;
  /** Every answer given so far, for checks across a whole suite. */
  seen: { method: string; path: string; status: number; body: unknown }[];
  call(method: string, path: string, options?: CallOptions): Promise<Answer>;
  /**
   * `call`, but straight to a module's processes in turn (split), past the proxy: the proxy of
   * the split topology runs in this process, where every fetch — the test's and the proxy's own —
   * shares one limit of concurrent requests, so hundreds of requests in flight through it would
   * wait on each other for ever. In process it is `call`.
   */
  direct(module: string): { call: Minifb['call'] };
  /** Prometheus text of every process. */
  metricsText(): Promise<string>;
  /**
   * Every answer given so far, checked against the OpenAPI document of the process that gave it
   * (the route's declared status and schema): the problems found, none when all conform.
   */
  openapiProblems(): Promise<string[]>;
  /** The OpenAPI document of every process (one in process). */
  openapiDocuments(): Promise<any[]>;
  /** The OpenAPI paths of every process together (in the split topology each documents its own). */
  openapiPaths(): Promise<Record<string, any>>;
  /** Signs a user up (password PASSWORD) and logs them in; returns their access token. */
  user(id: string, profile?: { name?: string; nickname?: string | null; bio?: string | null }): Promise<string>;
  login(id: string, pw?: string): Promise<{ accessToken: string; refreshToken: string; passwordChangeRequired: boolean }>;
  stop(): Promise<void>;
}

/**
 * minifb's API as a client drives it: a token goes in `Authorization: Bearer <token>`, and every
 * answer is checked where it arrives — no 5xx but a dependency's 503 (none at all in a fault suite,
 * `faults`: the proxy's 502s and a dead dependency's 503s are what it asserts), the envelope on
 * every error, and the status and body `document` declares (the port's own unless given).
 */
export function minifbClient(
  transport: Transport,
  options: { document?: () => Promise<{ paths: Record<string, any> }>; faults?: boolean; observe?(answer: Exchange): void } = {},
): ApiClient {
  const document = options.document ?? once(async () => (await transport(new Request('http://localhost/openapi.json'))).json());
  return apiClient(transport, {
    auth: (token) => ({ authorization: `Bearer ${token}` }),
    inspect: inspection({ document, faults: options.faults, tolerated: [503], envelope: true }),
    observe: options.observe,
  });
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

/**
 * minifb for the enclosing describe block: started with `opts` before its tests, handed to `use`,
 * and stopped after them.
 */
export function minifbForSuite(opts: Parameters<typeof startMinifb>[0], use: (fb: Minifb) => void): void {
  let fb: Minifb | undefined;
  beforeAll(async () => {
    fb = await startMinifb(opts);
    use(fb);
  }, 90000);
  afterAll(async () => {
    await fb?.stop();
  }, 30000);
}

interface Shape {
  bus: Bus;
  port: number;
  system?: RunningSystem;
  processes: Map<string, MinifbProcess>;
  nats?: PrivateNats;
  /** The way in: the port's handler, or the proxy's port. */
  transport: Transport;
  metricsText(): Promise<string>;
  /** The OpenAPI documents of the processes (one in process). */
  documents(): Promise<any[]>;
  addProcess?(module: string): Promise<MinifbProcess>;
  stop(): Promise<void>;
}

async function inProcess(env: Record<string, string>, clock?: Clock): Promise<Shape> {
  const system = await startSystem(parseConfig(env, allModules), allModules, { listen: false, clock });
  const port = allModules.find((m) => m.name === 'account')!.defaultPort;
  return {
    system,
    bus: system.bus,
    port,
    processes: new Map(),
    transport: handlerTransport((request) => system.handle(port, request)),
    metricsText: async () => (await system.handle(port, new Request('http://localhost/metrics'))).text(),
    documents: async () => [await (await system.handle(port, new Request('http://localhost/openapi.json'))).json()],
    stop: () => system.stop(),
  };
}

async function split(env: Record<string, string>, prefix: string, external?: { nats: { url: string }; natsReplicas?: number }): Promise<Shape> {
  const own = external ? undefined : new PrivateNats();
  await own?.start();
  const nats = external?.nats ?? own!;
  const log = createLogger({ test: 'minifb-split' });
  const plan = planSplit({
    pgUrl: PG_ADMIN_URL,
    dbPrefix: prefix,
    natsUrl: nats.url,
    natsReplicas: external?.natsReplicas,
    modules: MINIFB_MODULES,
    replicas: { feed: 2 },
    ports: Object.fromEntries(MINIFB_MODULES.flatMap((m) => [m, `${m}-2`]).map((name) => [name, freePort()])),
    minifb: { jwtSecret: env.JWT_SECRET ?? DEFAULT_SECRET, adminId: ADMIN.id, adminPassword: ADMIN.pw },
  });
  const root = join(import.meta.dir, '..', '..');
  const processes = new Map<string, MinifbProcess>();
  let starts = 0;
  const processOf = (p: SplitProcess) => {
    const entry: MinifbProcess = {
      plan: p,
      async start() {
        // TEST_CHILD_LOG_DIR=dir keeps each process's debug log in dir/<name>-<n>.log.
        const logDir = process.env.TEST_CHILD_LOG_DIR;
        entry.proc = Bun.spawn(['bun', join(root, 'platform/main.ts')], {
          env: { ...process.env, ...env, ...p.env, LOG_LEVEL: logDir ? 'debug' : (env.LOG_LEVEL ?? 'error'), HOST: '127.0.0.1' },
          stdout: 'inherit',
          stderr: logDir ? Bun.file(join(logDir, `${p.name}-${++starts}.log`)) : 'inherit',
        });
        await eventually(async () => (await fetch(`http://127.0.0.1:${p.port}/openapi.json`).catch(() => null))?.ok, 30000, `${p.name} up`);
      },
      async kill(signal = 'SIGKILL') {
        const pid = entry.proc?.pid;
        entry.proc?.kill(signal);
        await entry.proc?.exited;
        entry.proc = undefined;
        // Writers wait for a killed holder's lease to run out: so does the harness (leaseRunOut).
        if (signal === 'SIGKILL' && pid !== undefined) await leaseRunOut(nats.url, pid);
      },
    };
    processes.set(p.name, entry);
    return entry;
  };
  for (const p of plan) processOf(p);
  // The account module first: every other one waits for its snapshot.
  await processes.get('account')!.start();
  await Promise.all([...processes.values()].filter((p) => p.plan.name !== 'account').map((p) => p.start()));
  const proxy = startProxy({ port: 0, hostname: '127.0.0.1', ...planProxy(plan, 'minifb'), log, downForMs: 1000 });
  const bus = await NatsBus.connect({ servers: nats.url, namespace: '', log, replicas: external?.natsReplicas });
  return {
    bus,
    port: proxy.port,
    nats: own,
    processes,
    transport: urlTransport(`http://127.0.0.1:${proxy.port}`),
    async addProcess(module) {
      const like = plan.find((p) => p.module === module)!;
      const port = freePort();
      const upper = module.toUpperCase();
      const entry = processOf({ ...like, name: `${module}-extra-${port}`, port, env: { ...like.env, [`${upper}_PORT`]: String(port) } });
      await entry.start();
      return entry;
    },
    metricsText: async () => {
      const texts = await Promise.all(plan.map((p) => fetch(`http://127.0.0.1:${p.port}/metrics`).then((r) => r.text(), () => '')));
      return texts.join('\n');
    },
    documents: () => Promise.all(plan.map((p) => fetch(`http://127.0.0.1:${p.port}/openapi.json`).then((r) => r.json()))),
    async stop() {
      proxy.stop(true);
      // (extra processes are in `processes` too)
      await bus.close();
      await Promise.all([...processes.values()].map((p) => p.kill('SIGTERM')));
      await own?.destroy();
    },
  };
}

/**
 * `clock`: whose time tokens and temporary passwords expire by (in process only). Split only:
 * `nats` runs the processes on that NATS (a NatsCluster) instead of a private nats-server of
 * their own, with `natsReplicas`; `dbPrefix` starts the databases' names.
 */
export async function startMinifb(opts: {
  backend: Backend;
  env?: Record<string, string>;
  clock?: Clock;
  nats?: { url: string };
  natsReplicas?: number;
  dbPrefix?: string;
  /** A fault suite: a 5xx is what it asserts, so answers of 500 and more are not checked. */
  faults?: boolean;
  /** Accounts `u1`..`uN` made before the start (password SCALE_PASSWORD; see seedAccounts). */
  accounts?: number;
}): Promise<Minifb> {
  const dataDir = mkdtempSync(join(tmpdir(), 'minifb-'));
  const env: Record<string, string> = {
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'error',
    MODULES: MINIFB_MODULES.join(','),
    DATA_DIR: dataDir,
    ...opts.env,
  };
  const databases: Record<string, string> = {};
  const prefix = `${opts.dbPrefix ?? 't_'}${crypto.randomUUID().replaceAll('-', '').slice(0, 12)}`;
  const cleanUp = async () => {
    rmSync(dataDir, { recursive: true, force: true });
    for (const database of Object.values(databases)) await admin(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  };

  let shape: Shape;
  try {
    if (opts.backend !== 'pglite') {
      for (const module of MINIFB_MODULES) databases[module] = `${prefix}_${module}`;
    }
    if (opts.backend === 'pg') {
      for (const module of MINIFB_MODULES) {
        await admin(`CREATE DATABASE "${databases[module]}"`);
        env[`${module.toUpperCase()}_DATABASE_URL`] = urlOf(databases[module]!);
      }
    }
    if (opts.backend === 'split') {
      await prepareDatabases({ pgUrl: PG_ADMIN_URL, dbPrefix: prefix, modules: MINIFB_MODULES });
      delete env.MODULES;
    }
    if (opts.accounts) {
      const url = opts.backend === 'pglite' ? undefined : urlOf(databases.account!);
      await seedAccounts({ url, dataDir }, opts.accounts);
    }
    shape = opts.backend === 'split' ? await split(env, prefix, opts.nats && { nats: opts.nats, natsReplicas: opts.natsReplicas }) : await inProcess(env, opts.clock);
  } catch (error) {
    await cleanUp();
    throw error;
  }

  const seen: Minifb['seen'] = [];
  const openapiPaths = async () => {
    const paths: Record<string, any> = {};
    for (const doc of await shape.documents()) Object.assign(paths, doc.paths);
    return paths;
  };
  // The answers are held to the processes' own documents together.
  const clientOf = (transport: Transport) =>
    minifbClient(transport, {
      document: once(async () => ({ paths: await openapiPaths() })),
      faults: opts.faults,
      observe: ({ request, status, body }) => void seen.push({ method: request.method, path: request.path, status, body: structuredClone(body) }),
    });
  const { call } = clientOf(shape.transport);
  const login = async (id: string, pw = PASSWORD) => {
    const res = await call('POST', '/auth', { body: { id, pw } });
    if (res.status !== 200) throw new Error(`login of ${id} answered ${res.status} ${res.text}`);
    return res.body;
  };
  let stopped: Promise<void> | undefined;
  return {
    backend: opts.backend,
    system: shape.system,
    bus: shape.bus,
    port: shape.port,
    databases,
    processes: shape.processes,
    nats: shape.nats,
    addProcess: (module) => {
      if (!shape.addProcess) throw new Error('only the split topology runs processes');
      return shape.addProcess(module);
    },
    transport: shape.transport,
    seen,
    call,
    direct(module) {
      const ports = [...shape.processes.values()].filter((p) => p.plan.module === module).map((p) => p.plan.port);
      if (ports.length === 0) return { call };
      let turn = 0;
      return clientOf((request) => urlTransport(`http://127.0.0.1:${ports[turn++ % ports.length]}`)(request));
    },
    login,
    metricsText: shape.metricsText,
    openapiDocuments: () => shape.documents(),
    openapiPaths,
    async openapiProblems() {
      const doc = { paths: await openapiPaths() };
      return seen.flatMap((r) => {
        const problem = answerProblem(doc, r);
        return problem ? [`${r.method} ${r.path} → ${r.status}: ${problem}`] : [];
      });
    },
    async user(id, profile = {}) {
      const res = await call('POST', '/signup', { body: { id, pw: PASSWORD, name: profile.name ?? `User ${id}`.slice(0, 16), ...profile } });
      if (res.status !== 201) throw new Error(`sign-up of ${id} answered ${res.status} ${res.text}`);
      return (await login(id)).accessToken;
    },
    stop: () => (stopped ??= shape.stop().finally(cleanUp)),
  };
}
