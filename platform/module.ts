import type { Static, TSchema } from '@sinclair/typebox';
import type { AnyElysia } from 'elysia';
import type { Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';
import type { BucketDescriptor, Copy } from './bus/copy.ts';
import type { Bus } from './bus/types.ts';
import type { Clock } from './clock.ts';
import type { Config } from './config.ts';
import type { DatabaseKind } from './data/db.ts';
import type { Logger } from './observability/log.ts';
import type { Outbox } from './data/outbox.ts';

/** What the platform hands a module when it starts it; `DB` is the module's own database interface. */
export interface ModuleContext<DB = any> {
  name: string;
  db: Kysely<DB>;
  /** The same database for work no request waits on: without a request's statement and lock timeout. */
  background: Kysely<DB>;
  dbKind: DatabaseKind;
  bus: Bus;
  outbox: Outbox;
  log: Logger;
  config: Config;
  /** The time by which things expire (tokens, temporary passwords). */
  clock: Clock;
  /**
   * A bounded copy of another domain's snapshot bucket (see platform/bus/copy.ts), sized by the
   * configuration, stopped with the module, its figures in the process's metrics.
   */
  copyOf<K, S extends TSchema, D = Static<S>>(descriptor: BucketDescriptor<K, S>, options?: { derive?: (value: Static<S>) => D; preload?: boolean }): Promise<Copy<K, D>>;
}

/** A module as the composition root sees it: no internals, just how to start it. */
export interface ModuleDefinition {
  name: string;
  product: 'homeshopping' | 'minifb';
  /** The contract's port; `<NAME>_PORT` overrides it. Modules with the same port share one app. */
  defaultPort: number;
  /**
   * Where the module's own process listens when the modules sharing `defaultPort` run apart on
   * one host (the local split topology), behind a proxy on `defaultPort`.
   */
  splitPort?: number;
  /**
   * Path prefixes this module answers (`/post` covers `/post/14/comment`). Where the modules of
   * one port run as separate processes, the reverse proxy in front of them routes by these.
   */
  routes?: string[];
  /** Text of init_database.sql, loaded into a new embedded database. */
  initSql?: string;
  migrations: Record<string, Migration>;
  start(ctx: ModuleContext): Promise<RunningModule>;
}

export interface RunningModule {
  /** The module's HTTP adapter: a named Elysia plugin. */
  http: AnyElysia;
  stop(): Promise<void>;
}

/** What a module declares of itself; its product's helper below adds what the product decides. */
type OwnDefinition<DB> = Omit<ModuleDefinition, 'product' | 'start'> & { start(ctx: ModuleContext<DB>): Promise<RunningModule> };

/**
 * A homeshopping module: a port of its own (the contract's), and an embedded database first
 * loaded from the kit's init_database.sql, read from `initSql`.
 */
export async function homeshoppingModule<DB>({ initSql, ...definition }: Omit<OwnDefinition<DB>, 'initSql' | 'splitPort' | 'routes'> & { initSql: URL }): Promise<ModuleDefinition> {
  return { ...definition, product: 'homeshopping', initSql: await Bun.file(initSql).text() };
}

/**
 * A minifb module: it answers on the product's one port, 8000, beside the other minifb modules;
 * `splitPort` and `routes` place it when they run as separate processes.
 */
export function minifbModule<DB>(definition: Omit<OwnDefinition<DB>, 'defaultPort' | 'initSql'> & { splitPort: number; routes: string[] }): ModuleDefinition {
  return { ...definition, product: 'minifb', defaultPort: 8000 };
}
