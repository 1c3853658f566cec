/**
 * The split topology for tests: a private nats-server (random port, temp store — never the
 * machine's shared one, so tests may stop it), fresh Postgres databases per domain, and one real
 * process per domain started with the same variables compose sets (platform/dev/split.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { NatsBus } from '../../platform/bus/nats/index.ts';
import { planSplit, prepareDatabases, type SplitProcess } from '../../platform/dev/split.ts';
import type { Logger } from '../../platform/observability/log.ts';
import { urlTransport } from '../conformance/kit.ts';
import type { ApiClient } from './client.ts';
import { shopClient, type ShopApi, type ShopApis } from './shop.ts';

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

/**
 * Resolves once NATS has forgotten every copy-holder entry of process `pid`: a process killed
 * without a word is counted out only when its lease has run out (presence.ts), and writers
 * answer 503 for what it held until then. A harness that kills a process waits for this, so
 * that the next test does not meet that window (the fault suite measures it).
 */
export async function leaseRunOut(natsUrl: string, pid: number, namespace = '', ms = 15000) {
  const { connect } = await import('nats');
  const nc = await connect({ servers: natsUrl.split(','), timeout: 2000 });
  try {
    const name = namespace ? `${namespace}_copy_holders` : 'copy_holders';
    const jsm = await nc.jetstreamManager();
    // (every key's last message, as the stream lists them: a KV view's key listing may end early
    // while others write)
    // (a request that fails proves nothing: it throws, and `eventually` asks again)
    const held = async () => {
      const info = await jsm.streams.info(`KV_${name}`, { subjects_filter: '>' });
      for (const subject of Object.keys(info.state.subjects ?? {})) {
        const last = await jsm.streams.getMessage(`KV_${name}`, { last_by_subj: subject }).catch((error: Error) => {
          if (/no message found/i.test(error.message)) return undefined;
          throw error;
        });
        if (last && last.data.length > 0 && last.json<{ pid?: number }>().pid === pid) return true;
      }
      return false;
    };
    await eventually(async () => !(await held()), ms, `the copy holders of process ${pid} forgotten`);
  } finally {
    await nc.close();
  }
}

/** Deletes the streams (buckets too) of namespace `ns` on a shared nats-server: what a test made there. */
export async function dropNamespace(servers: string, ns: string) {
  const { connect } = await import('nats');
  const nc = await connect({ servers });
  const jsm = await nc.jetstreamManager();
  for await (const s of jsm.streams.list()) if (s.config.name.includes(ns)) await jsm.streams.delete(s.config.name);
  await nc.close();
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

/**
 * Two buses, as two processes have, on a nats-server of their own that `body` may stop and
 * start; afterwards, whatever happened, both are closed and the server is gone.
 */
export async function onPrivateNats(namespace: string, log: Logger, body: (nats: PrivateNats, first: NatsBus, second: NatsBus) => Promise<void>) {
  const { NatsBus } = await import('../../platform/bus/nats/index.ts');
  const nats = new PrivateNats();
  await nats.start();
  const first = await NatsBus.connect({ servers: nats.url, namespace, log });
  const second = await NatsBus.connect({ servers: nats.url, namespace, log });
  try {
    await body(nats, first, second);
  } finally {
    await first.close();
    await second.close();
    await nats.destroy();
  }
}

export interface NatsClusterOptions {
  /**
   * Where node `from` reaches node `to`'s cluster port (`host:port`; default: that port itself) —
   * a fault suite's proxy. Given, every connection goes only where it was told: a node advertises
   * no route of its own to the others (they cannot go around the proxies) and tells clients of no
   * other node (a client reaches the nodes through the URLs it was given).
   */
  route?(from: string, to: string): string;
}

/** Where a node tells its peers it can be reached when no peer may find its own way: nowhere (port 1 refuses). */
const UNREACHABLE_ROUTE = '127.0.0.1:1';

/**
 * A NATS cluster of our own: `size` nats-servers (JetStream, each its own store under one temp
 * dir, routes to the others, one cluster name), each restartable on its ports and store.
 * `url` lists every node's client port, as compose's NATS_URL does.
 */
export class NatsCluster {
  readonly root = mkdtempSync(join(tmpdir(), 'nats-cluster-'));
  readonly name = `c${Math.floor(Math.random() * 1e9).toString(36)}`;
  readonly nodes: { name: string; port: number; clusterPort: number; storeDir: string; proc?: ReturnType<typeof Bun.spawn> }[];
  readonly url: string;
  private nc: import('nats').NatsConnection | undefined;
  private starts = 0;

  constructor(
    size = 3,
    ports?: { client: number[]; cluster: number[] },
    private readonly options: NatsClusterOptions = {},
  ) {
    this.nodes = Array.from({ length: size }, (_, i) => ({
      name: `node${i + 1}`,
      port: ports?.client[i] ?? freePort(),
      clusterPort: ports?.cluster[i] ?? freePort(),
      storeDir: join(this.root, `node${i + 1}`),
    }));
    this.url = this.nodes.map((n) => `nats://127.0.0.1:${n.port}`).join(',');
  }

  node(name: string) {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  /** Starts every node and waits for JetStream to answer through each of them. */
  async start() {
    for (const n of this.nodes) this.spawn(n.name);
    for (const n of this.nodes) await this.waitNode(n.name);
  }

  private spawn(name: string) {
    const n = this.node(name);
    const { route } = this.options;
    const routes = this.nodes
      .filter((o) => o !== n)
      .map((o) => `nats://${route ? route(n.name, o.name) : `127.0.0.1:${o.clusterPort}`}`)
      .join(',');
    const only = route ? ['--cluster_advertise', UNREACHABLE_ROUTE, '--no_advertise'] : [];
    // TEST_CHILD_LOG_DIR=dir keeps each node's log in dir/nats-<node>-<n>.log.
    const logDir = process.env.TEST_CHILD_LOG_DIR;
    n.proc = Bun.spawn(
      ['/usr/sbin/nats-server', '-js', '-a', '127.0.0.1', '-p', String(n.port), '-sd', n.storeDir, '--cluster', `nats://127.0.0.1:${n.clusterPort}`, '--routes', routes, '--cluster_name', this.name, '-n', n.name, ...only],
      { stdout: 'ignore', stderr: logDir ? Bun.file(join(logDir, `nats-${n.name}-${++this.starts}.log`)) : 'ignore' },
    );
  }

  /** JetStream answers on the node's own port (the node is in the cluster, a meta leader exists). */
  private async waitNode(name: string, ms = 60000) {
    await eventually(() => this.jetStreamThrough(name), ms, `${name} up with JetStream`);
  }

  /**
   * Whether `$JS.API.INFO` is answered through the node's own port: only the JetStream meta
   * leader answers it, so a node that is up, in the cluster, and sees a meta leader. (Streams can
   * have leaders while the meta group has none — for seconds after a partitioned node rejoins —
   * and then nothing that asks JetStream's API is answered: stream info, consumers, leader gets.)
   */
  private async jetStreamThrough(name: string): Promise<boolean> {
    const { connect } = await import('nats');
    const nc = await connect({ servers: `nats://127.0.0.1:${this.node(name).port}`, timeout: 500 });
    try {
      const info = JSON.parse(new TextDecoder().decode((await nc.request('$JS.API.INFO', new Uint8Array(0), { timeout: 1000 })).data));
      return !info.error;
    } catch {
      return false;
    } finally {
      await nc.close();
    }
  }

  /** SIGKILL: the node is gone at once; SIGTERM: it shuts down as an operator's restart does. */
  async kill(name: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') {
    const n = this.node(name);
    n.proc?.kill(signal);
    await n.proc?.exited;
    n.proc = undefined;
  }

  /** Starts a stopped node again (same ports, same store) and waits until it answers. */
  async restart(name: string) {
    this.spawn(name);
    await this.waitNode(name);
  }

  /** A connection of the test's own, to every node. */
  async connection() {
    if (!this.nc) {
      const { connect } = await import('nats');
      this.nc = await connect({ servers: this.url.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    }
    return this.nc;
  }

  /** `$JS.API.STREAM.INFO.<stream>` as NATS answers it (undefined while no leader answers). */
  async streamInfo(stream: string): Promise<any> {
    const nc = await this.connection();
    try {
      const m = await nc.request(`$JS.API.STREAM.INFO.${stream}`, new Uint8Array(0), { timeout: 1000 });
      const info = JSON.parse(new TextDecoder().decode(m.data));
      return info.error ? undefined : info;
    } catch {
      return undefined;
    }
  }

  /** The node leading a stream (`KV_alarms`, `ITEM_EVENTS`), once one does. */
  async leaderOf(stream: string, ms = 60000): Promise<string> {
    return (await eventually(async () => (await this.streamInfo(stream))?.cluster?.leader as string | undefined, ms, `a leader of ${stream}`))!;
  }

  /**
   * The durable consumers of a stream, each as `$JS.API.CONSUMER.INFO` has it. Names the server
   * made (ephemeral and ordered consumers: 22 capitals and digits) are left out: after a partition
   * their orphaned assignments keep `CONSUMER.LIST` from answering for a minute on nats-server 2.9.
   */
  async durables(stream: string): Promise<{ name: string; cluster?: { leader?: string } }[]> {
    const nc = await this.connection();
    const ask = async (subject: string, body = '{}') => {
      const answer = JSON.parse(new TextDecoder().decode((await nc.request(subject, new TextEncoder().encode(body), { timeout: 2000 })).data));
      if (answer.error) throw new Error(`${subject}: ${answer.error.description}`);
      return answer;
    };
    const names = ((await ask(`$JS.API.CONSUMER.NAMES.${stream}`)).consumers ?? []) as string[];
    return Promise.all(names.filter((n) => !/^[A-Z0-9]{22}(_\d+)?$/.test(n)).map((n) => ask(`$JS.API.CONSUMER.INFO.${stream}.${n}`, '')));
  }

  async streams(): Promise<string[]> {
    const nc = await this.connection();
    const m = await nc.request('$JS.API.STREAM.NAMES', new TextEncoder().encode('{}'), { timeout: 2000 });
    return (JSON.parse(new TextDecoder().decode(m.data)).streams ?? []) as string[];
  }

  /**
   * Every stream has a leader and every other replica current, none on a node that is down
   * (`except`): what must hold before the next node may go.
   */
  async healthy(ms = 30000, except: string[] = []) {
    const deadline = performance.now() + ms;
    await eventually(async () => {
      for (const stream of await this.streams()) {
        const info = await this.streamInfo(stream);
        const c = info?.cluster;
        // (what is not healthy yet is thrown: the timeout's message names it)
        if (!c?.leader || except.includes(c.leader)) throw new Error(`${stream}: led by ${c?.leader ?? 'nobody'}`);
        const replicas = (c.replicas ?? []) as { name: string; current: boolean; lag?: number; active?: number }[];
        if (replicas.length < info.config.num_replicas - 1) throw new Error(`${stream}: ${replicas.length + 1} of ${info.config.num_replicas} replicas`);
        const behind = replicas.filter((r) => !except.includes(r.name) && !r.current);
        if (behind.length > 0) throw new Error(`${stream} (led by ${c.leader}): ${behind.map((r) => `${r.name} not current (lag ${r.lag ?? 0}, active ${r.active ?? '?'} ns ago)`).join(', ')}`);
        // A durable consumer is a raft group of its own: nats-server 2.9 can leave one without a
        // leader ("has NO quorum, stalled") for half a minute after its stream is led again.
        for (const consumer of await this.durables(stream)) {
          const leader = consumer.cluster?.leader;
          if (!leader || except.includes(leader)) throw new Error(`${stream} > ${consumer.name}: led by ${leader ?? 'nobody'}`);
        }
      }
      return true;
    }, ms, 'every stream and durable consumer led, every stream replica current');
    await eventually(async () => {
      for (const n of this.nodes) if (!except.includes(n.name) && !(await this.jetStreamThrough(n.name))) throw new Error(`no JetStream meta leader answers through ${n.name}`);
      return true;
    }, Math.max(1, deadline - performance.now()), 'a JetStream meta leader answering through every node');
  }

  async destroy() {
    await this.nc?.close().catch(() => {});
    for (const n of this.nodes) await this.kill(n.name);
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface DomainProcess {
  plan: SplitProcess;
  port: number;
  proc?: ReturnType<typeof Bun.spawn>;
}

export interface SplitShopOptions {
  /** Starts the databases' names (a random suffix follows). */
  dbPrefix?: string;
  /** Each process's NATS_REPLICAS. */
  natsReplicas?: number;
  /** Each process's own NATS_URL (default: the NATS's `url`): a fault suite's proxies. */
  natsUrl?(module: string): string;
  /** A fault suite: the clients do not check answers of 500 and more (see `shopClient`). */
  faults?: boolean;
}

/**
 * Three (or more) domain processes over one NATS, each with its own fresh database. Each API is
 * a client of the one shape both products' harnesses have (`shop.item.call(...)`), over HTTP to
 * its process.
 */
export class SplitShop<Nats extends { url: string } = { url: string }> implements ShopApis {
  readonly prefix: string;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'split-'));
  readonly processes = new Map<string, DomainProcess>();
  readonly item: ApiClient;
  readonly alarm: ApiClient;
  readonly user: ApiClient;
  private starts = 0;
  /** The nats-server started for this topology alone (`withOwnNats`), ended with it. */
  private own?: PrivateNats;

  /**
   * A topology on a nats-server of its own (`shop.nats`), started; `stop()` ends that server too.
   * `env` is given to every process.
   */
  static async withOwnNats(options: SplitShopOptions & { modules?: string[]; env?: Record<string, string> } = {}): Promise<SplitShop<PrivateNats>> {
    const nats = new PrivateNats();
    await nats.start();
    const shop = new SplitShop(nats, options.modules, options.env, options);
    shop.own = nats;
    try {
      await shop.start();
    } catch (error) {
      await shop.stop();
      throw error;
    }
    return shop;
  }

  /** `nats`: a private nats-server or a NatsCluster (its URL lists every node). */
  constructor(
    readonly nats: Nats,
    readonly modules = ['item', 'alarm', 'user'],
    private readonly extraEnv: Record<string, string> = {},
    private readonly options: SplitShopOptions = {},
  ) {
    this.prefix = `${options.dbPrefix ?? 't'}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    // The URL is read at each request: the process's port is known once it is started.
    const client = (api: ShopApi) => shopClient(api, (request) => urlTransport(this.url(api))(request), { faults: options.faults });
    this.item = client('item');
    this.alarm = client('alarm');
    this.user = client('user');
  }

  async start() {
    await prepareDatabases({ pgUrl: PG_ADMIN, dbPrefix: this.prefix, modules: this.modules });
    const ports = Object.fromEntries(this.modules.map((m) => [m, freePort()]));
    const { natsReplicas } = this.options;
    for (const plan of planSplit({ pgUrl: PG_ADMIN, dbPrefix: this.prefix, natsUrl: this.nats.url, natsReplicas, modules: this.modules, ports })) {
      if (this.options.natsUrl) plan.env.NATS_URL = this.options.natsUrl(plan.module);
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

  /** Kills a module's process; SIGKILL waits until its lease as a copy holder has run out (see leaseRunOut). */
  async kill(module: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL') {
    const p = this.processes.get(module)!;
    const pid = p.proc?.pid;
    p.proc?.kill(signal);
    await p.proc?.exited;
    p.proc = undefined;
    if (signal === 'SIGKILL' && pid !== undefined) await leaseRunOut(this.nats.url, pid);
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
    await this.own?.destroy();
  }
}
