import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { startShop, userTokens, whileDatabaseDown, type Backend, type Shop } from './support/shop.ts';

/**
 * What the endpoint suite (homeshopping.test.ts) does not see: the domains' bus services, an
 * unknown route, and the item database going away under a running system.
 */
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
const ITEM50 = { id: 50, name: '[역대최다-13종]17WINTER 레그미인', broadcaster: 'cjmall', category: '패션·잡화', price: 78900 };
type Json = any;

const code = (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code);

describe.each(['pglite', 'pg'] as Backend[])('homeshopping services on %s', (backend) => {
  let shop: Shop;
  let tokens = new Map<number, string>();
  /** `GET path` on `api` as `token`: the status and body of the answer (the harness has checked it). */
  const get = async (api: 'item' | 'alarm' | 'user', path: string, token = T10) => {
    const { status, body } = await shop[api].call('GET', path, { token });
    return { status, body: body as Json };
  };

  beforeAll(async () => {
    shop = await startShop({ backend });
    tokens = await userTokens(shop.user);
  }, 60000);

  afterAll(async () => {
    await shop?.stop();
  }, 30000);

  test('item.get and item.list — answer what the item API shows; the list comes in pages; bad payloads are ITEM.INVALID', async () => {
    const { bus } = shop.system;
    expect(await bus.request('item.get', { id: 50 })).toEqual(ITEM50);
    expect(await code(bus.request('item.get', { id: 999 }))).toBe('ITEM.NOT_FOUND');
    expect(await code(bus.request('item.get', { id: 'x' }))).toBe('ITEM.INVALID');
    const first = (await bus.request('item.list', { limit: 2 })) as Json;
    expect(first.items.map((i: Json) => i.id)).toEqual([100, 99]);
    expect(first.next).toBe(99);
    const walked: number[] = [];
    for (let before: number | undefined, page: Json; ; before = page.next) {
      page = await bus.request('item.list', before === undefined ? { limit: 30 } : { before, limit: 30 });
      walked.push(...page.items.map((i: Json) => i.id));
      if (page.next === null) break;
    }
    const listed = (await get('item', '/')).body.payload.map((i: Json) => i.id);
    expect(walked).toEqual(listed);
    expect(await code(bus.request('item.list', { limit: 501 }))).toBe('ITEM.INVALID');
  });

  test('alarm.of-user — answers the alarm set, ascending; a bad payload is ALARM.INVALID', async () => {
    const { bus } = shop.system;
    for (const item of [3, 1]) {
      await shop.alarm.call('POST', '/', { token: tokens.get(40), body: { item_id: item } });
    }
    expect(await bus.request('alarm.of-user', { userId: 40 })).toEqual({ userId: 40, itemIds: [1, 3] });
    expect(await code(bus.request('alarm.of-user', {}))).toBe('ALARM.INVALID');
  });

  test('user.authenticate and user.recent-visits — answer for the user domain', async () => {
    const { bus } = shop.system;
    expect(await bus.request('user.authenticate', { token: T10 })).toEqual({ id: 10, name: '박규경', access_token: T10 });
    expect(await code(bus.request('user.authenticate', { token: 'nope' }))).toBe('USER.UNAUTHORIZED');
    await get('item', '/8', tokens.get(41));
    expect(await bus.request('user.recent-visits', { userId: 41 })).toEqual({ itemIds: [8] });
  });

  test('unknown route — is 404 with the error object on every port', async () => {
    for (const api of ['item', 'alarm', 'user'] as const) {
      expect(await get(api, '/nothing/here')).toEqual({ status: 404, body: { result: 'Not Found', hint: 'no route for GET /nothing/here' } });
    }
  });

  if (backend === 'pg') {
    test('item database down — reads answer from memory, and a detail view still records its visit (straight to the stream)', async () => {
      await whileDatabaseDown(shop.databases.item!, async () => {
        expect((await get('item', '/', tokens.get(45))).status).toBe(200);
        expect((await get('item', '/66', tokens.get(45))).status).toBe(200);
        expect((await get('user', '/visit', tokens.get(45))).body.payload.map((i: Json) => i.id)).toEqual([66]);
      });
    });
  }
});
