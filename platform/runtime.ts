import { hostname } from 'node:os';
import type { AnyElysia } from 'elysia';
import { copyOf, type Copy } from './bus/copy.ts';
import { systemClock, type Clock } from './clock.ts';
import { MemoryBus } from './bus/memory.ts';
import type { Bus } from './bus/types.ts';
import type { Config } from './config.ts';
import { openDatabase, releaseClusterTemplate, type ModuleDatabase } from './data/db.ts';
import { DomainError, isDatabaseUnavailable } from './errors.ts';
import { createHttpApp } from './http/app.ts';
import { edge } from './http/edge.ts';
import { copyCheck, databaseCheck, Readiness } from './observability/health.ts';
import { createLogger, setLogBufferBytes, setLogLevel, type Logger } from './observability/log.ts';
import { guardMemory } from './observability/memory.ts';
import { Metrics } from './observability/metrics.ts';
import type { ModuleDefinition, RunningModule } from './module.ts';
import { operationsPaths, withOperations } from './http/operations.ts';
import { Outbox } from './data/outbox.ts';
import { observe } from './observability/request-context.ts';
import { isDocumentation, pathOf, PortRoutes } from './http/routes.ts';
import { noRoute, RequestMeter, TELEMETRY_STREAM } from './observability/telemetry.ts';

export interface RunningSystem {
  bus: Bus;
  /** One app per served port. */
  apps: Map<number, AnyElysia>;
  /**
   * Answers a request as the port would (metering and `/metrics` included), without a socket:
   * what tests call. The key is the configured port.
   */
  handle(port: number, request: Request): Promise<Response>;
  /** Ports actually bound (differs from the configured one when it was 0). */
  ports: Map<number, number>;
  /** Counts the requests of the ports that meter them (minifb's). */
  meter: RequestMeter;
  /** The process's Prometheus registry, served at /metrics on every port. */
  metrics: Metrics;
  /**
   * Stops gracefully: the ports stop accepting and the requests in flight are answered (those
   * still running after three quarters of the grace period, SHUTDOWN_GRACE_MS by default, are
   * cut: the rest is the modules'), then the modules stop, the request counts are reported and
   * the databases closed.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
  /**
   * The modules whose database has not answered since the start (they answer 503 and are being
   * tried again): what a readiness check reports as not ready.
   */
  waiting(): string[];
}

/** A port this process should serve is taken: the process must not share it. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly variables: string[],
  ) {
    super(`port ${port} is already in use (${variables.join(', ')}): another process is listening on it; stop it or choose another port`);
    this.name = 'PortInUseError';
  }
}

interface PortServer {
  port?: number;
  stop(closeActiveConnections?: boolean): Promise<void>;
}

/** Stops accepting and waits for the requests in flight, at most `ms`; then cuts what is left. */
async function drain(server: PortServer, ms: number, log: Logger): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const graceful = server.stop(false).then(() => true);
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const finished = await Promise.race([graceful, late]);
  clearTimeout(timer);
  if (!finished) {
    log.warn('requests still in flight at the end of the grace period were cut', { port: server.port, ms });
    await server.stop(true);
  }
}

export interface StartOptions {
  /** Bind HTTP ports (false in tests that call `app.handle`). */
  listen?: boolean;
  /** Use this bus instead of creating one (tests share one between systems). */
  bus?: Bus;
  log?: Logger;
  /** Whose time things expire by (tests move one by hand). */
  clock?: Clock;
}

async function createBus(config: Config, log: Logger): Promise<Bus> {
  if (!config.natsUrl) return new MemoryBus(log.child({ component: 'bus' }));
  const { NatsBus } = await import('./bus/nats/index.ts');
  return NatsBus.connect({ servers: config.natsUrl, namespace: config.natsNamespace, replicas: config.natsReplicas, log: log.child({ component: 'bus' }) });
}


/**
 * The port's handler with request metering: every API request is counted by route pattern and
 * status once it is answered (in memory; reported on the bus each second, for the statistics).
 */
function metered(app: AnyElysia, routes: PortRoutes, product: string, meter: RequestMeter) {
  return async (request: Request): Promise<Response> => {
    const response: Response = await app.handle(request);
    // The documentation is no API traffic (health checks and scrapes are answered before: operations.ts).
    if (isDocumentation(pathOf(request.url))) return response;
    const endpoint = routes.of(request)?.pattern ?? noRoute(request.method);
    meter.record(product, endpoint, response.status);
    return response;
  };
}

/**
 * Binds a port of its own: `reusePort: false`, so a second process started on a taken port fails
 * instead of silently sharing it (and its requests) with the first. The request body limit is
 * enforced by the edge, which answers 413 in the error envelope; Bun's own limit (which answers
 * a bare 413) stays at its default, far above it.
 */
function listen(port: number, hostname: string, fetch: (request: Request) => Promise<Response>, variables: string[]) {
  try {
    return Bun.serve({ port, hostname, reusePort: false, fetch });
  } catch (error) {
    if ((error as { code?: string }).code === 'EADDRINUSE') throw new PortInUseError(port, variables);
    throw error;
  }
}

/** A module of this process: its database, outbox, copies and running parts, once it has them. */
interface Opened {
  def: ModuleDefinition;
  port: number;
  log: Logger;
  /** Undefined while its database has not answered since the start (see `heal`). */
  database?: ModuleDatabase;
  outbox?: Outbox;
  copies: Copy<unknown, unknown>[];
  running?: RunningModule;
}

/** The first retry of a database that did not answer at start, and the longest wait between two. */
const RECONNECT_FIRST_MS = 250;
const RECONNECT_MAX_MS = 2000;

/**
 * Starts the modules this process runs (config.modules) with their databases, outboxes and HTTP
 * apps. Every module starts before any port is bound, so the first request finds warm copies.
 *
 * A module whose Postgres database cannot be reached at start (refused, missing, a role that
 * may not log in, too many connections) does not stop the process: one line names its variable,
 * its port serves the documents and answers 503 for its routes, and the database is tried again
 * in the background (backoff up to 2 s). Once it answers the module migrates and starts (relay,
 * snapshots, consumers) and its routes are served.
 */
export async function startSystem(config: Config, definitions: readonly ModuleDefinition[], options: StartOptions = {}): Promise<RunningSystem> {
  setLogLevel(config.logLevel);
  setLogBufferBytes(config.logBufferBytes);
  const log = options.log ?? createLogger();
  const bus = options.bus ?? (await createBus(config, log));
  const opened: Opened[] = [];
  const servers: PortServer[] = [];
  const meter = new RequestMeter(`${hostname()}-${process.pid}-${crypto.randomUUID().slice(0, 4)}`, log.child({ component: 'telemetry' }));
  let metering = false;
  let stopping = false;
  const healing = new Set<Promise<void>>();
  /** Waits of the retries in the background, cut short by a stop. */
  const sleepers = new Set<() => void>();
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });
  const apps = new Map<number, AnyElysia>();
  const handlers = new Map<number, (request: Request) => Promise<Response>>();
  const ports = new Map<number, number>();
  const metrics = new Metrics();
  metrics.watchBus(bus);

  const unguard = options.listen === false ? () => {} : guardMemory(log.child({ component: 'memory' }));
  const stopModule = async (m: Opened) => {
    await m.running?.stop().catch((error) => log.warn('module stop failed', { module: m.def.name, error }));
    for (const c of m.copies) await c.stop();
    await m.outbox?.stop();
  };
  const stop = async ({ graceMs = config.shutdownGraceMs }: { graceMs?: number } = {}) => {
    stopping = true;
    for (const wake of [...sleepers]) wake();
    unguard();
    // The ports first, all at once: no new request comes in while the modules stop.
    await Promise.all(servers.map((s) => drain(s, (graceMs * 3) / 4, log)));
    await Promise.all([...healing]);
    if (metering) await meter.stop(bus).catch(() => {});
    for (const m of [...opened].reverse()) await stopModule(m);
    if (!options.bus) await bus.close();
    for (const m of opened) await m.database?.close().catch(() => {});
  };

  const open = async (m: Opened, url: string | undefined) => {
    const database = await openDatabase({
      module: m.def.name,
      url,
      dataDir: config.dataDir,
      initSql: m.def.initSql,
      migrations: m.def.migrations,
      log: m.log,
      statementTimeoutMs: config.dbStatementTimeoutMs,
    });
    m.database = database;
    // The relay and the fills run on the connections without a request's time limit.
    m.outbox = new Outbox(database.background, bus, m.log.child({ component: 'outbox' }));
  };

  const launch = async (m: Opened) => {
    const database = m.database!;
    m.running = await m.def.start({
      name: m.def.name,
      db: database.db,
      background: database.background,
      dbKind: database.kind,
      bus: metrics.busOf(m.def.name, bus),
      outbox: m.outbox!,
      log: m.log,
      config,
      clock: options.clock ?? systemClock,
      copyOf: async (descriptor, opts) => {
        const onLag = metrics.copyLagObserver(m.def.name, descriptor.bucket);
        const copy = await copyOf(bus, descriptor, { capacity: config.copyCapacity, derive: opts?.derive, preload: opts?.preload, log: m.log.child({ copy: descriptor.bucket }), onLag });
        m.copies.push(copy as Copy<unknown, unknown>);
        metrics.watchCopy(m.def.name, copy as Copy<unknown, unknown>);
        return copy;
      },
    });
    // The relay and the upkeep of the module's buckets run in the background: a copy answers
    // right away (from the bucket, or from its owner while the owner fills it).
    m.outbox!.start();
  };

  /** (Re)builds the app of a port from the modules that run; a module still waiting answers 503. */
  const buildPort = async (port: number) => {
    const here = opened.filter((m) => m.port === port);
    const products = new Set(here.map((m) => m.def.product));
    if (products.size > 1) throw new Error(`port ${port} is configured for modules of two products`);
    const product = here[0]!.def.product;
    let app: AnyElysia = createHttpApp({
      name: `http:${port}`,
      product,
      modules: here.map((m) => m.def.name),
      log: log.child({ port }),
      maxBodyBytes: config.maxBodyBytes,
      extraPaths: operationsPaths(product),
      bareNotFound: product === 'homeshopping',
    });
    for (const m of here) if (m.running) app = app.use(m.running.http);
    const waiting = here.filter((m) => !m.running);
    if (waiting.length > 0) {
      const refuse = (module: string) => () => {
        throw new DomainError('DATABASE.UNAVAILABLE', `the ${module} database has not answered since this process started; it is being tried again`);
      };
      const alone = waiting.length === here.length;
      for (const m of waiting) {
        const prefixes = alone || !m.def.routes?.length ? ['*'] : m.def.routes.flatMap((r) => [r, `${r}/*`]);
        for (const prefix of prefixes) app = app.all(prefix, refuse(m.def.name), { detail: { hide: true } });
        if (alone) break;
      }
    }
    apps.set(port, app);
    const routes = new PortRoutes(() => app.routes);
    // minifb's ports count every request for its statistics.
    let handler = (request: Request) => app.handle(request);
    if (product === 'minifb') {
      if (!metering) {
        await bus.ensureStream(TELEMETRY_STREAM);
        meter.start(bus);
        metrics.watchUnsentStatistics(() => meter.unsent);
        metering = true;
      }
      handler = metered(app, routes, product, meter);
    }
    // Every port: /healthz, /readyz (its modules' databases and copies), /metrics, request durations.
    const readiness = new Readiness(() =>
      here.flatMap((m) => [
        // A module still waiting for its database (or unable to start on it) answers 503: not ready.
        m.running && m.database ? databaseCheck(m.def.name, m.database.db) : () => `${m.def.name} ${m.database ? 'not started on its database' : 'database unreachable'}`,
        ...m.copies.map((c) => copyCheck(c.stats().bucket, c)),
      ]),
    );
    const operated = withOperations(handler, { routes, api: here.map((m) => m.def.name).join(','), metrics, readiness });
    // Outermost: the request's id, trace and log line cover everything the port does.
    handlers.set(port, observe(edge(operated, config), { routes, log: log.child({ port }) }));
  };

  /** Tries a database that did not answer at start until it does, then starts its module. */
  const heal = async (m: Opened, url: string) => {
    let wait = RECONNECT_FIRST_MS;
    let problem: string | undefined;
    while (!stopping) {
      await pause(wait);
      if (stopping) return;
      wait = Math.min(wait * 2, RECONNECT_MAX_MS);
      try {
        if (!m.database) await open(m, url);
        if (stopping) return;
        await launch(m);
        await buildPort(m.port);
        m.log.info('the database answered: the module has started', { module: m.def.name });
        return;
      } catch (error) {
        if (isDatabaseUnavailable(error)) {
          m.log.debug('the database is still not usable; trying again', { module: m.def.name, error, inMs: wait });
        } else if ((error as Error)?.message !== problem) {
          // The database answers, but the module cannot start on it (a migration fails, an
          // init_database.sql not loaded yet): that is worth a line, once per kind of failure.
          problem = (error as Error)?.message;
          m.log.error('the database answers, but the module cannot start on it; trying again', { module: m.def.name, error, stack: (error as Error)?.stack });
        }
        // What a failed start left running goes, and the start is tried again from the database on.
        await stopModule(m);
        m.running = undefined;
        m.copies = [];
        await m.database?.close().catch(() => {});
        m.database = undefined;
        m.outbox = undefined;
      }
    }
  };

  try {
    const waiting: { m: Opened; url: string }[] = [];
    for (const mc of config.modules) {
      const def = definitions.find((d) => d.name === mc.name);
      if (!def) throw new Error(`module ${mc.name} has no definition`);
      const m: Opened = { def, port: mc.port, log: log.child({ module: def.name }), copies: [] };
      metrics.watchOutbox(def.name, async () => (m.outbox ? m.outbox.waiting() : 0));
      try {
        await open(m, mc.databaseUrl);
      } catch (error) {
        if (!mc.databaseUrl || !isDatabaseUnavailable(error)) throw error;
        const variable = `${def.name.toUpperCase()}_DATABASE_URL`;
        // The one line an operator needs: which variable, what the database said.
        m.log.error(`the database in ${variable} cannot be used (${(error as Error).message}); the ${def.name} routes answer 503 until it can, and it is tried again in the background`, {
          variable,
        });
        waiting.push({ m, url: mc.databaseUrl });
      }
      opened.push(m);
    }
    releaseClusterTemplate();
    for (const m of opened) if (m.database) await launch(m);

    for (const port of new Set(opened.map((m) => m.port))) {
      await buildPort(port);
      if (options.listen !== false) {
        const here = opened.filter((m) => m.port === port);
        const server = listen(port, config.host, (request) => handlers.get(port)!(request), here.map((m) => `${m.def.name.toUpperCase()}_PORT`));
        servers.push(server);
        ports.set(port, server.port!);
        log.info('listening', { port: server.port, modules: here.map((m) => m.def.name) });
      }
    }
    for (const { m, url } of waiting) {
      const attempt = heal(m, url).finally(() => healing.delete(attempt));
      healing.add(attempt);
    }
    const handle = (port: number, request: Request) => {
      const handler = handlers.get(port);
      if (!handler) throw new Error(`no app serves port ${port}`);
      return handler(request);
    };
    const waitingModules = () => opened.filter((m) => !m.running).map((m) => m.def.name);
    return { bus, apps, handle, ports, meter, metrics, stop, waiting: waitingModules };
  } catch (error) {
    await stop();
    throw error;
  }
}
