import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allModules } from '../modules/index.ts';
import { parseConfig } from '../platform/config.ts';
import { startSystem } from '../platform/runtime.ts';
import { handlerTransport } from './support/client.ts';
import { minifbClient } from './support/minifb.ts';
import { shopClients } from './support/shop.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'restart-'));
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
const start = () => startSystem(parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error', MODULES: 'item,alarm,user' }, allModules), allModules, { listen: false });

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('embedded mode — alarms and visits persist across a restart in DATA_DIR', async () => {
  const first = await start();
  const before = shopClients(first);
  expect((await before.alarm.call('POST', '/', { token: T10, body: { item_id: 42 } })).status).toBe(201);
  expect((await before.item.call('GET', '/42', { token: T10 })).status).toBe(200);
  await first.stop();

  const second = await start();
  try {
    const after = shopClients(second);
    const alarms = (await after.alarm.call('GET', '/', { token: T10 })).body as { payload: { id: number }[] };
    expect(alarms.payload.map((i) => i.id)).toEqual([42]);
    const items = (await after.item.call('GET', '/', { token: T10 })).body as { payload: { id: number; is_alarm_set: boolean }[] };
    expect(items.payload.find((i) => i.id === 42)?.is_alarm_set).toBe(true);
    const visits = (await after.user.call('GET', '/visit', { token: T10 })).body as { payload: { id: number }[] };
    expect(visits.payload.map((i) => i.id)).toEqual([42]);
  } finally {
    await second.stop();
  }
}, 90000);

test('embedded mode — minifb accounts, posts and tokens survive a restart in DATA_DIR (the JWT secret is kept there)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'restart-minifb-'));
  const boot = () => startSystem(parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'error', MODULES: 'account,feed,notification,stats' }, allModules), allModules, { listen: false });
  const clientOf = (sys: Awaited<ReturnType<typeof boot>>) => minifbClient(handlerTransport((request) => sys.handle(8000, request)));
  try {
    const first = await boot();
    const before = clientOf(first);
    expect((await before.call('POST', '/signup', { body: { id: 'keeper', pw: 'keeper-password', name: 'Keeper' } })).status).toBe(201);
    const { accessToken } = (await before.call('POST', '/auth', { body: { id: 'keeper', pw: 'keeper-password' } })).body as { accessToken: string };
    expect((await before.call('POST', '/post', { token: accessToken, body: { content: 'still here?' } })).status).toBe(201);
    await first.stop();

    const second = await boot();
    try {
      const after = clientOf(second);
      const me = await after.call('GET', '/me', { token: accessToken });
      expect(me.status).toBe(200);
      const posts = (await after.call('GET', '/timeline', { token: accessToken })).body as { items: { content: string; owner: { name: string } }[] };
      expect(posts.items.map((p) => [p.content, p.owner.name])).toEqual([['still here?', 'Keeper']]);
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90000);
