import { describe, expect, test } from 'bun:test';
import { ConfigError, parseConfig } from './config.ts';

const known = [
  { name: 'item', defaultPort: 5001 },
  { name: 'alarm', defaultPort: 6001 },
  { name: 'user', defaultPort: 7001 },
];

/** The ConfigError `env` is refused with (fails the test when it is accepted). */
function refusal(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env, known);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('configuration', () => {
  test('configuration — without variables runs every module in process on embedded databases at the contract ports', () => {
    const c = parseConfig({}, known);
    expect({ ...c, env: undefined }).toEqual({
      dataDir: './.data',
      natsUrl: undefined,
      natsNamespace: '',
      logLevel: 'info',
      logBufferBytes: 1024 * 1024,
      host: '0.0.0.0',
      natsReplicas: 1,
      copyCapacity: 20000,
      shutdownGraceMs: 10_000,
      maxBodyBytes: 1024 * 1024,
      corsOrigins: [],
      dbStatementTimeoutMs: 400,
      env: undefined,
      modules: [
        { name: 'item', port: 5001, databaseUrl: undefined },
        { name: 'alarm', port: 6001, databaseUrl: undefined },
        { name: 'user', port: 7001, databaseUrl: undefined },
      ],
    });
  });

  test('configuration — blank values count as unset', () => {
    const c = parseConfig({ MODULES: ' ', NATS_URL: '', ITEM_PORT: '  ', USER_DATABASE_URL: '', LOG_LEVEL: ' ', DATA_DIR: '', HOST: '' }, known);
    expect(c).toMatchObject({ natsUrl: undefined, logLevel: 'info', dataDir: './.data', host: '0.0.0.0' });
    expect(c.modules.map((m) => [m.name, m.port, m.databaseUrl])).toEqual([
      ['item', 5001, undefined],
      ['alarm', 6001, undefined],
      ['user', 7001, undefined],
    ]);
  });

  test('configuration — reads every variable it knows', () => {
    const c = parseConfig(
      {
        MODULES: 'alarm, user',
        NATS_URL: 'nats://a:4222,nats://b:4222',
        NATS_NAMESPACE: 'test_1-a',
        ALARM_PORT: '16001',
        USER_PORT: '0',
        ALARM_DATABASE_URL: 'postgres://u:p@h:5432/alarm',
        USER_DATABASE_URL: 'postgresql://h/user',
        LOG_LEVEL: 'debug',
        DATA_DIR: '/var/lib/moa',
        HOST: '127.0.0.1',
        SHUTDOWN_GRACE_MS: '2500',
        MAX_BODY_BYTES: '65536',
        CORS_ORIGINS: 'https://app.example.com, http://localhost:3000',
        SOMETHING_ELSE: 'x',
      },
      known,
    );
    expect(c.modules).toEqual([
      { name: 'alarm', port: 16001, databaseUrl: 'postgres://u:p@h:5432/alarm' },
      { name: 'user', port: 0, databaseUrl: 'postgresql://h/user' },
    ]);
    expect(c).toMatchObject({ natsUrl: 'nats://a:4222,nats://b:4222', natsNamespace: 'test_1-a', logLevel: 'debug', dataDir: '/var/lib/moa', host: '127.0.0.1' });
    expect(c).toMatchObject({ shutdownGraceMs: 2500, maxBodyBytes: 65536, corsOrigins: ['https://app.example.com', 'http://localhost:3000'] });
    expect(parseConfig({ CORS_ORIGINS: '*' }, known).corsOrigins).toEqual(['*']);
    expect(parseConfig({ DB_STATEMENT_TIMEOUT_MS: '250' }, known).dbStatementTimeoutMs).toBe(250);
    expect(() => parseConfig({ DB_STATEMENT_TIMEOUT_MS: '0' }, known)).toThrow('DB_STATEMENT_TIMEOUT_MS: must be at least 1');
    expect(c.env.SOMETHING_ELSE).toBe('x');
  });

  test('configuration — runs the modules in the order MODULES names them', () => {
    expect(parseConfig({ MODULES: 'user,item,alarm' }, known).modules.map((m) => m.name)).toEqual(['user', 'item', 'alarm']);
  });

  test('configuration — accepts a NATS URL as host:port', () => {
    expect(parseConfig({ NATS_URL: 'nats:4222' }, known).natsUrl).toBe('nats:4222');
  });

  const bad: [variable: string, value: string][] = [
    ['ITEM_PORT', 'http'],
    ['ITEM_PORT', '1.5'],
    ['ALARM_PORT', '-1'],
    ['USER_PORT', '70000'],
    ['ITEM_DATABASE_URL', 'mysql://h/item'],
    ['ALARM_DATABASE_URL', 'not a url'],
    ['USER_DATABASE_URL', 'postgres//h/user'],
    ['NATS_URL', 'http://n:4222'],
    ['NATS_URL', 'nats://n:4222,http://m:4222'],
    ['LOG_LEVEL', 'loud'],
    ['NATS_NAMESPACE', 'a.b'],
    ['NATS_NAMESPACE', 'a>'],
    ['NATS_REPLICAS', '0'],
    ['NATS_REPLICAS', 'three'],
    ['NATS_REPLICAS', '6'],
    ['COPY_CACHE_ENTRIES', '10'],
    ['COPY_CACHE_ENTRIES', '1e3x'],
    ['SHUTDOWN_GRACE_MS', '0'],
    ['SHUTDOWN_GRACE_MS', 'soon'],
    ['MAX_BODY_BYTES', '1.5'],
    ['MAX_BODY_BYTES', '1e12'],
    ['CORS_ORIGINS', 'https://app.example.com/path'],
    ['CORS_ORIGINS', 'app.example.com'],
  ];
  for (const [variable, value] of bad) {
    test(`configuration — refuses ${variable}=${JSON.stringify(value)}, naming ${variable} and the value`, () => {
      const error = refusal({ [variable]: value });
      expect(error.variable).toBe(variable);
      expect(error.message.startsWith(`${variable}: `)).toBe(true);
      if (!variable.startsWith('NATS_NAMESPACE')) expect(error.message).toContain(JSON.stringify(value));
    });
  }

  test('configuration — refuses MODULES naming an unknown module, and names it', () => {
    const error = refusal({ MODULES: 'item,cart', NATS_URL: 'nats://n:4222' });
    expect(error.variable).toBe('MODULES');
    expect(error.message).toContain('"cart"');
  });

  test('configuration — refuses MODULES naming a module twice', () => {
    expect(refusal({ MODULES: 'item,alarm,user,item' }).variable).toBe('MODULES');
    expect(refusal({ MODULES: 'alarm, alarm', NATS_URL: 'nats://n:4222' }).variable).toBe('MODULES');
  });

  test('configuration — refuses MODULES that names no module', () => {
    expect(refusal({ MODULES: ' , ,' }).variable).toBe('MODULES');
  });

  test('configuration — refuses running only some modules without NATS_URL, naming NATS_URL', () => {
    for (const modules of ['item', 'alarm,user', 'user']) {
      const error = refusal({ MODULES: modules });
      expect(error.variable).toBe('NATS_URL');
      expect(error.message).toContain('NATS_URL');
    }
    expect(parseConfig({ MODULES: 'item', NATS_URL: 'nats://n:4222' }, known).modules.map((m) => m.name)).toEqual(['item']);
    expect(parseConfig({ MODULES: 'user,alarm,item' }, known).natsUrl).toBeUndefined();
  });

  test('configuration — the process stops with exit code 2 and a message naming the variable', () => {
    const run = Bun.spawnSync(['bun', `${import.meta.dir}/main.ts`], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ITEM_PORT: 'nope' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    expect(run.exitCode).toBe(2);
    expect(run.stderr.toString()).toContain('ITEM_PORT');
  });
});
