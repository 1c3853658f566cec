import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allModules } from '../modules/index.ts';
import { parseConfig } from '../platform/config.ts';
import { startSystem } from '../platform/runtime.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'restart-'));
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
const start = () => startSystem(parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error', MODULES: 'item,alarm,user' }, allModules), allModules, { listen: false });
const call = (sys: Awaited<ReturnType<typeof start>>, port: number, path: string, init: RequestInit = {}) =>
  sys.apps.get(port)!.handle(new Request(`http://localhost${path}`, { ...init, headers: { 'USER-TOKEN': T10, 'content-type': 'application/json', ...init.headers } }));

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

test('embedded mode — alarms and visits persist across a restart in DATA_DIR', async () => {
  const first = await start();
  expect((await call(first, 6001, '/', { method: 'POST', body: '{"item_id":42}' })).status).toBe(201);
  expect((await call(first, 5001, '/42')).status).toBe(200);
  await first.stop();

  const second = await start();
  try {
    const alarms = (await (await call(second, 6001, '/')).json()) as { payload: { id: number }[] };
    expect(alarms.payload.map((i) => i.id)).toEqual([42]);
    const items = (await (await call(second, 5001, '/')).json()) as { payload: { id: number; is_alarm_set: boolean }[] };
    expect(items.payload.find((i) => i.id === 42)?.is_alarm_set).toBe(true);
    const visits = (await (await call(second, 7001, '/visit')).json()) as { payload: { id: number }[] };
    expect(visits.payload.map((i) => i.id)).toEqual([42]);
  } finally {
    await second.stop();
  }
}, 90000);

test('embedded mode — minifb accounts, posts and tokens survive a restart in DATA_DIR (the JWT secret is kept there)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'restart-minifb-'));
  const boot = () => startSystem(parseConfig({ DATA_DIR: dir, LOG_LEVEL: 'error', MODULES: 'account,feed,notification,stats' }, allModules), allModules, { listen: false });
  const send = (sys: Awaited<ReturnType<typeof boot>>, method: string, path: string, body?: unknown, token?: string) =>
    sys.handle(8000, new Request(`http://localhost${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } }));
  try {
    const first = await boot();
    expect((await send(first, 'POST', '/signup', { id: 'keeper', pw: 'keeper-password', name: 'Keeper' })).status).toBe(201);
    const { accessToken } = (await (await send(first, 'POST', '/auth', { id: 'keeper', pw: 'keeper-password' })).json()) as { accessToken: string };
    expect((await send(first, 'POST', '/post', { content: 'still here?' }, accessToken)).status).toBe(201);
    await first.stop();

    const second = await boot();
    try {
      const me = await send(second, 'GET', '/me', undefined, accessToken);
      expect(me.status).toBe(200);
      const posts = (await (await send(second, 'GET', '/timeline', undefined, accessToken)).json()) as { items: { content: string; owner: { name: string } }[] };
      expect(posts.items.map((p) => [p.content, p.owner.name])).toEqual([['still here?', 'Keeper']]);
    } finally {
      await second.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 90000);
