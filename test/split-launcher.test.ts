import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launcherPlan, type MinifbSecrets } from '../platform/dev/split.ts';
import { admin } from './support/shop.ts';
import { eventually, freePort, PrivateNats } from './support/split.ts';

/**
 * `bun run start:split` (platform/dev/split.ts) takes its ports and HOST from the same variables as
 * the main process: the plan it reads from them, and the launcher run for real.
 */
const SECRETS: MinifbSecrets = { jwtSecret: 's'.repeat(40), adminId: 'admin', adminPassword: 'a long password' };
const portsOf = (plan: ReturnType<typeof launcherPlan>) => Object.fromEntries(plan.processes.map((p) => [p.name, p.port]));

describe('the launcher plan', () => {
  test('every <MODULE>_PORT is honoured; further processes of a module are 10 above the one before', () => {
    const plan = launcherPlan({ ITEM_PORT: '15001', ALARM_PORT: '16001', USER_PORT: '17001', ACCOUNT_PORT: '19001', FEED_PORT: '19002', NOTIFICATION_PORT: '19003', STATS_PORT: '19004', MINIFB_PORT: '19000', SPLIT_REPLICAS: 'feed=3' }, SECRETS);
    expect(portsOf(plan)).toEqual({ item: 15001, alarm: 16001, user: 17001, account: 19001, feed: 19002, 'feed-2': 19012, 'feed-3': 19022, notification: 19003, stats: 19004 });
    // Each process is told its own port, as the main process reads it.
    for (const p of plan.processes) expect(p.env[`${p.module.toUpperCase()}_PORT`]).toBe(String(p.port));
    expect(plan.proxies.map((p) => [p.product, p.port])).toEqual([['minifb', 19000]]);
    const feed = plan.proxies[0]!.routes.find((r) => r.prefix === '/post')!;
    expect(feed.upstreams).toEqual(['http://127.0.0.1:19002', 'http://127.0.0.1:19012', 'http://127.0.0.1:19022']);
  });

  test('without port variables: the contract ports, the split ports for minifb, 8012 for the second feed process, the proxy on 8000', () => {
    const plan = launcherPlan({}, SECRETS);
    expect(portsOf(plan)).toEqual({ item: 5001, alarm: 6001, user: 7001, account: 8001, feed: 8002, 'feed-2': 8012, notification: 8003, stats: 8004 });
    expect(plan.proxies.map((p) => [p.port, p.hostname])).toEqual([[8000, '0.0.0.0']]);
  });

  test('HOST is what the proxy binds, and where it reaches the processes (the loopback for 0.0.0.0)', () => {
    const specific = launcherPlan({ HOST: '127.0.0.2', MODULES: 'account,feed' }, SECRETS).proxies[0]!;
    expect(specific.hostname).toBe('127.0.0.2');
    expect([...specific.fallback, ...specific.routes.flatMap((r) => r.upstreams)].every((u) => u.startsWith('http://127.0.0.2:'))).toBe(true);
    const any = launcherPlan({ HOST: '0.0.0.0', MODULES: 'account' }, SECRETS).proxies[0]!;
    expect(any.fallback).toEqual(['http://127.0.0.1:8001']);
  });

  test('ports that would be shared are refused, naming what would share them', () => {
    expect(() => launcherPlan({ FEED_PORT: '9000', NOTIFICATION_PORT: '9010' }, SECRETS)).toThrow('processes feed-2 and notification would share port 9010');
    expect(() => launcherPlan({ MINIFB_PORT: '8001' }, SECRETS)).toThrow('MINIFB_PORT: the minifb proxy and process account would share port 8001');
    expect(() => launcherPlan({ FEED_PORT: 'eighty' }, SECRETS)).toThrow('FEED_PORT');
  });
});

describe('bun run start:split, for real', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'launcher-'));
  const prefix = `t${crypto.randomUUID().replaceAll('-', '').slice(0, 10)}`;
  const nats = new PrivateNats();
  afterAll(async () => {
    await nats.destroy();
    for (const m of ['account', 'feed']) await admin(`DROP DATABASE IF EXISTS "${prefix}_${m}" WITH (FORCE)`);
    rmSync(dataDir, { recursive: true, force: true });
  }, 60000);

  test('FEED_PORT, ACCOUNT_PORT, MINIFB_PORT and HOST are where it listens; SIGTERM stops every process and it exits 0', async () => {
    await nats.start();
    const feed = freePort();
    const account = freePort();
    const proxy = freePort();
    const launcher = Bun.spawn(['bun', join(import.meta.dir, '..', 'platform', 'dev', 'split.ts')], {
      env: { ...process.env, MODULES: 'account,feed', SPLIT_REPLICAS: 'feed=2', SPLIT_DB_PREFIX: prefix, NATS_URL: nats.url, DATA_DIR: dataDir, HOST: '127.0.0.1', FEED_PORT: String(feed), ACCOUNT_PORT: String(account), MINIFB_PORT: String(proxy), LOG_LEVEL: 'error' },
      stdout: 'ignore',
      stderr: 'pipe',
    });
    try {
      const answers = async (port: number, host = '127.0.0.1') => (await fetch(`http://${host}:${port}/openapi.json`).catch(() => null))?.ok === true;
      for (const port of [account, feed, feed + 10, proxy]) await eventually(() => answers(port), 60000, `port ${port} up`);
      // The proxy routes to the processes on those ports, and binds HOST only.
      expect((await (await fetch(`http://127.0.0.1:${proxy}/post`)).json()).hint).toContain('Authorization');
      expect((await fetch(`http://127.0.0.1:${proxy}/post`)).headers.get('x-upstream')).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:(${feed}|${feed + 10})$`));
      expect(await answers(proxy, '127.0.0.2')).toBe(false);
      expect(await answers(feed, '127.0.0.2')).toBe(false);
      launcher.kill('SIGTERM');
      expect(await launcher.exited).toBe(0);
      for (const port of [account, feed, feed + 10, proxy]) expect(await answers(port)).toBe(false);
    } finally {
      launcher.kill('SIGKILL');
    }
  }, 150000);
});
