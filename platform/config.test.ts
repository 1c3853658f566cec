import { describe, expect, test } from 'bun:test';
import { ConfigError, parseConfig } from './config.ts';

const known = [
  { name: 'item', defaultPort: 5001 },
  { name: 'alarm', defaultPort: 6001 },
  { name: 'user', defaultPort: 7001 },
];
const fails = (env: Record<string, string>, variable: string) => {
  try {
    parseConfig(env, known);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message.startsWith(`${variable}:`)).toBe(true);
    return;
  }
  throw new Error(`expected ${variable} to be refused`);
};

describe('configuration', () => {
  test('defaults: every module, in process, embedded databases, contract ports', () => {
    const c = parseConfig({}, known);
    expect(c.modules).toEqual([
      { name: 'item', port: 5001, databaseUrl: undefined },
      { name: 'alarm', port: 6001, databaseUrl: undefined },
      { name: 'user', port: 7001, databaseUrl: undefined },
    ]);
    expect(c.natsUrl).toBeUndefined();
    expect(c.dataDir).toBe('./.data');
  });

  test('one module per process over NATS, with its database and port', () => {
    const c = parseConfig({ MODULES: 'alarm', NATS_URL: 'nats://n:4222', ALARM_DATABASE_URL: 'postgres://u@h/db', ALARM_PORT: '16001' }, known);
    expect(c.modules).toEqual([{ name: 'alarm', port: 16001, databaseUrl: 'postgres://u@h/db' }]);
    expect(c.natsUrl).toBe('nats://n:4222');
  });

  test('refuses a process running only some modules without NATS_URL, naming NATS_URL', () => fails({ MODULES: 'item' }, 'NATS_URL'));
  test('refuses an unknown module', () => fails({ MODULES: 'item,cart', NATS_URL: 'nats://n:4222' }, 'MODULES'));
  test('refuses a module named twice', () => fails({ MODULES: 'item,item,alarm,user' }, 'MODULES'));
  test('refuses a bad port', () => fails({ ITEM_PORT: 'http' }, 'ITEM_PORT'));
  test('refuses a port out of range', () => fails({ USER_PORT: '70000' }, 'USER_PORT'));
  test('refuses a database URL that is not Postgres', () => fails({ ALARM_DATABASE_URL: 'mysql://x' }, 'ALARM_DATABASE_URL'));
  test('refuses a bad NATS URL', () => fails({ NATS_URL: 'http://x' }, 'NATS_URL'));
  test('refuses a bad log level', () => fails({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'));
  test('refuses a bad namespace', () => fails({ NATS_NAMESPACE: 'a.b' }, 'NATS_NAMESPACE'));

  test('the process stops with a message naming the variable', () => {
    const run = Bun.spawnSync(['bun', `${import.meta.dir}/main.ts`], { env: { ...process.env, ITEM_PORT: 'nope' }, stderr: 'pipe' });
    expect(run.exitCode).toBe(2);
    expect(run.stderr.toString()).toContain('ITEM_PORT');
  });
});
