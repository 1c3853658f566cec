import type { AnyElysia } from 'elysia';
import { MemoryBus } from './bus/memory.ts';
import type { Bus } from './bus/types.ts';
import type { Config } from './config.ts';
import { openDatabase, releaseClusterTemplate, type ModuleDatabase } from './db.ts';
import { createHttpApp } from './http.ts';
import { createLogger, setLogLevel, type Logger } from './log.ts';
import type { ModuleDefinition, RunningModule } from './module.ts';
import { Outbox } from './outbox.ts';

export interface RunningSystem {
  bus: Bus;
  /** One app per served port, for `app.handle(request)` in tests. */
  apps: Map<number, AnyElysia>;
  /** Ports actually bound (differs from the configured one when it was 0). */
  ports: Map<number, number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Bind HTTP ports (false in tests that call `app.handle`). */
  listen?: boolean;
  /** Use this bus instead of creating one (tests share one between systems). */
  bus?: Bus;
  log?: Logger;
}

async function createBus(config: Config, log: Logger): Promise<Bus> {
  if (!config.natsUrl) return new MemoryBus(log.child({ component: 'bus' }));
  const { NatsBus } = await import('./bus/nats.ts');
  return NatsBus.connect({ servers: config.natsUrl, namespace: config.natsNamespace, log: log.child({ component: 'bus' }) });
}

/**
 * Starts the modules this process runs (config.modules) with their databases, outboxes and HTTP
 * apps. Every module starts before any port is bound, so the first request finds warm copies.
 */
export async function startSystem(config: Config, definitions: readonly ModuleDefinition[], options: StartOptions = {}): Promise<RunningSystem> {
  setLogLevel(config.logLevel);
  const log = options.log ?? createLogger();
  const bus = options.bus ?? (await createBus(config, log));
  const opened: { def: ModuleDefinition; port: number; database: ModuleDatabase; outbox: Outbox; running?: RunningModule }[] = [];
  const servers: { stop(force?: boolean): unknown }[] = [];

  const stop = async () => {
    for (const s of servers) await s.stop(true);
    for (const m of opened.reverse()) {
      await m.running?.stop().catch((error) => log.warn('module stop failed', { module: m.def.name, error }));
      await m.outbox.stop();
    }
    if (!options.bus) await bus.close();
    for (const m of opened) await m.database.close().catch(() => {});
  };

  try {
    for (const mc of config.modules) {
      const def = definitions.find((d) => d.name === mc.name);
      if (!def) throw new Error(`module ${mc.name} has no definition`);
      const mlog = log.child({ module: def.name });
      const database = await openDatabase({
        module: def.name,
        url: mc.databaseUrl,
        dataDir: config.dataDir,
        initSql: def.initSql,
        migrations: def.migrations,
        log: mlog,
      });
      const outbox = new Outbox(database.db, database.kind, bus, mlog.child({ component: 'outbox' }));
      opened.push({ def, port: mc.port, database, outbox });
    }
    releaseClusterTemplate();
    for (const m of opened) {
      m.running = await m.def.start({
        name: m.def.name,
        db: m.database.db,
        dbKind: m.database.kind,
        bus,
        outbox: m.outbox,
        log: log.child({ module: m.def.name }),
        config,
      });
      m.outbox.start();
    }
    // Let the first relay pass publish every start-up snapshot before the doors open.
    await Promise.all(opened.map((m) => m.outbox.flush(3000)));

    const apps = new Map<number, AnyElysia>();
    const ports = new Map<number, number>();
    for (const port of new Set(opened.map((m) => m.port))) {
      const here = opened.filter((m) => m.port === port);
      const products = new Set(here.map((m) => m.def.product));
      if (products.size > 1) throw new Error(`port ${port} is configured for modules of two products`);
      const [first] = here;
      let app: AnyElysia = createHttpApp({
        name: `http:${port}`,
        title: here.map((m) => m.def.title).join(' + '),
        log: log.child({ port }),
        bareNotFound: first!.def.product === 'homeshopping',
      });
      for (const m of here) app = app.use(m.running!.http);
      apps.set(port, app);
      if (options.listen !== false) {
        app.listen({ port, hostname: config.host });
        const server = app.server!;
        servers.push(server);
        ports.set(port, server.port!);
        log.info('listening', { port: server.port, modules: here.map((m) => m.def.name) });
      }
    }
    return { bus, apps, ports, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
