import { z } from 'zod';

/** What the platform needs to know of a module to configure it (no module code is imported). */
export interface ModuleInfo {
  name: string;
  defaultPort: number;
  /** Modules of one product depend on each other; modules of two products never do. */
  product?: string;
}

export interface ModuleConfig {
  name: string;
  port: number;
  /** Postgres URL; undefined means an embedded PGlite database under `dataDir`. */
  databaseUrl: string | undefined;
}

export interface Config {
  dataDir: string;
  natsUrl: string | undefined;
  /** Prefix for every subject, bucket and stream; lets tests share one NATS server. */
  natsNamespace: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Most bytes of log lines waiting for stderr (LOG_BUFFER_BYTES); past it lines are dropped and counted. */
  logBufferBytes: number;
  modules: ModuleConfig[];
  /** Host the HTTP servers bind to. */
  host: string;
  /** Replicas of every bucket and stream this process creates on NATS. */
  natsReplicas: number;
  /** Keys each copy of another domain's bucket holds at most (least recently used go first). */
  copyCapacity: number;
  /** How long a stop may take (SHUTDOWN_GRACE_MS): requests in flight finish within it. */
  shutdownGraceMs: number;
  /** Largest request body accepted (MAX_BODY_BYTES); a larger one is 413 before it is read. */
  maxBodyBytes: number;
  /** Origins a browser may call the API from (CORS_ORIGINS); `*` is any; empty is none. */
  corsOrigins: string[];
  /** Statement and lock timeout of request paths on Postgres (DB_STATEMENT_TIMEOUT_MS). */
  dbStatementTimeoutMs: number;
  /** Free-form extra settings read by modules (validated by them). */
  env: Record<string, string | undefined>;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`${variable}: ${message}`);
    this.name = 'ConfigError';
  }
}

const port = z.coerce.number().int().min(0).max(65535);
const postgresUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s), 'must be a postgres:// or postgresql:// URL')
  .refine((s) => URL.canParse(s), 'is not a valid URL');
const natsUrl = z
  .string()
  .refine((s) => s.split(',').every((u) => /^(nats|tls|ws|wss):\/\/[^\s]+$/.test(u.trim()) || /^[\w.-]+:\d+$/.test(u.trim())), 'must be nats://host:port (comma-separated for a cluster)');

const positiveInt = (max: number) => z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(max, `must be at most ${max}`);
/** `scheme://host[:port]`, as a browser sends it in `Origin`. */
const origin = z.string().refine((s) => s === '*' || /^https?:\/\/[^/\s?#]+$/.test(s), 'each origin must be * or scheme://host[:port], without a path');

function check<T>(variable: string, schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new ConfigError(variable, `${result.error.issues[0]?.message ?? 'invalid'} (got ${JSON.stringify(value)})`);
  }
  return result.data;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

/**
 * Reads the process configuration once, at start. Any bad value throws a ConfigError naming
 * the variable; the entry point prints it and exits.
 */
export function parseConfig(env: Record<string, string | undefined>, known: readonly ModuleInfo[]): Config {
  const names = known.map((m) => m.name);
  const requested = nonEmpty(env.MODULES)?.split(',').map((s) => s.trim()).filter(Boolean) ?? names;
  if (requested.length === 0) throw new ConfigError('MODULES', 'names no module');
  for (const name of requested) {
    if (!names.includes(name)) throw new ConfigError('MODULES', `unknown module "${name}" (known: ${names.join(', ')})`);
  }
  if (new Set(requested).size !== requested.length) throw new ConfigError('MODULES', 'names a module twice');

  const nats = nonEmpty(env.NATS_URL);
  if (nats !== undefined) check('NATS_URL', natsUrl, nats);
  // In process, a module reaches only the modules beside it: every module of a product it runs
  // must run here too. (The two products share nothing, so one may run without the other.)
  const productOf = (name: string) => known.find((m) => m.name === name)!.product ?? '';
  const missing = names.filter((n) => !requested.includes(n) && requested.some((r) => productOf(r) === productOf(n)));
  if (nats === undefined && missing.length > 0) {
    throw new ConfigError(
      'NATS_URL',
      `is unset, so modules talk in process, but MODULES runs only ${requested.join(', ')}; ` +
        `${missing.join(', ')} would be unreachable. Set NATS_URL, or run every module of the product in this process.`,
    );
  }

  const modules = requested.map((name): ModuleConfig => {
    const info = known.find((m) => m.name === name)!;
    const upper = name.toUpperCase();
    const portVar = `${upper}_PORT`;
    const dbVar = `${upper}_DATABASE_URL`;
    const rawPort = nonEmpty(env[portVar]);
    const rawDb = nonEmpty(env[dbVar]);
    return {
      name,
      port: rawPort === undefined ? info.defaultPort : check(portVar, port, rawPort),
      databaseUrl: rawDb === undefined ? undefined : check(dbVar, postgresUrl, rawDb),
    };
  });

  const namespace = nonEmpty(env.NATS_NAMESPACE) ?? '';
  if (!/^[A-Za-z0-9_-]*$/.test(namespace)) {
    throw new ConfigError('NATS_NAMESPACE', 'may hold only letters, digits, _ and -');
  }

  return {
    dataDir: nonEmpty(env.DATA_DIR) ?? './.data',
    natsUrl: nats,
    natsNamespace: namespace,
    logLevel: check('LOG_LEVEL', z.enum(['debug', 'info', 'warn', 'error']), nonEmpty(env.LOG_LEVEL) ?? 'info'),
    logBufferBytes: check('LOG_BUFFER_BYTES', positiveInt(1024 * 1024 * 1024), nonEmpty(env.LOG_BUFFER_BYTES) ?? String(1024 * 1024)),
    modules,
    host: nonEmpty(env.HOST) ?? '0.0.0.0',
    natsReplicas: check('NATS_REPLICAS', z.coerce.number().int().min(1).max(5), nonEmpty(env.NATS_REPLICAS) ?? '1'),
    copyCapacity: check('COPY_CACHE_ENTRIES', z.coerce.number().int().min(100).max(10_000_000), nonEmpty(env.COPY_CACHE_ENTRIES) ?? '20000'),
    shutdownGraceMs: check('SHUTDOWN_GRACE_MS', positiveInt(600_000), nonEmpty(env.SHUTDOWN_GRACE_MS) ?? '10000'),
    maxBodyBytes: check('MAX_BODY_BYTES', positiveInt(64 * 1024 * 1024), nonEmpty(env.MAX_BODY_BYTES) ?? String(1024 * 1024)),
    dbStatementTimeoutMs: check('DB_STATEMENT_TIMEOUT_MS', positiveInt(600_000), nonEmpty(env.DB_STATEMENT_TIMEOUT_MS) ?? '400'),
    corsOrigins: check('CORS_ORIGINS', z.array(origin), nonEmpty(env.CORS_ORIGINS)?.split(',').map((s) => s.trim()).filter(Boolean) ?? []),
    env,
  };
}
