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

/** What the platform hands a module when it starts it. */
export interface ModuleContext {
  name: string;
  db: Kysely<any>;
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
  /** Title of the port's API documentation. */
  title: string;
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
