import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDump } from '../platform/data/pg-dump.ts';
import { conformance, documentedRoutes, operational, schemaFromJson } from './conformance/openapi.ts';
import { comparable, published } from './conformance/documents.ts';
import { BAD_ITEM_IDS, ENDPOINTS as KIT_ENDPOINTS } from './conformance/homeshopping/index.ts';
import type { CallOptions } from './support/client.ts';
import { REPO_ROOT, startShop, type Backend, type Shop } from './support/shop.ts';
import type { Item } from '../modules/item/contract/index.ts';

/**
 * The homeshopping contract (shared/specs/homeshopping.md) as a client sees it, on every
 * endpoint, on embedded PGlite and on Postgres. One system per backend; tests stay apart by
 * acting as different users.
 */

type Api = 'item' | 'alarm' | 'user';
type Json = any;
interface User {
  id: number;
  name: string;
  access_token: string;
}

/** The rows of the project's own init_database.sql: what the APIs must serve, exactly. */
function rowsOf(module: string): (string | null)[][] {
  const dump = readFileSync(join(REPO_ROOT, 'modules', module, 'init_database.sql'), 'utf8');
  const block = parseDump(dump).find((p) => p.kind === 'copy');
  if (!block || block.kind !== 'copy') throw new Error(`no COPY block in ${module}/init_database.sql`);
  // The kit's files hold no escape but `\N` (NULL); an oracle that read more would be a second COPY.
  return block.copy.data.split('\n').slice(0, -1).map((line) =>
    line.split('\t').map((field) => {
      if (field === '\\N') return null;
      if (field.includes('\\')) throw new Error(`${module}/init_database.sql: an escape this oracle does not read: ${field}`);
      return field;
    }),
  );
}
const ITEMS: Item[] = rowsOf('item')
  .map(([id, name, broadcaster, category, price]) => ({ id: Number(id), name: name!, broadcaster: broadcaster!, category: category ?? null, price: Number(price) }))
  .sort((a, b) => b.id - a.id);
const USERS: User[] = rowsOf('user')
  .map(([id, name, access_token]) => ({ id: Number(id), name: name!, access_token: access_token! }))
  .sort((a, b) => b.id - a.id);
const itemById = new Map(ITEMS.map((i) => [i.id, i]));

const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
const ITEM50: Item = { id: 50, name: '[역대최다-13종]17WINTER 레그미인', broadcaster: 'cjmall', category: '패션·잡화', price: 78900 };
const ITEM_KEYS = ['broadcaster', 'category', 'id', 'name', 'price'];
const NOT_A_TOKEN = '00000000-0000-4000-8000-000000000000';

/** Every route of the contract, per API. */
/** The API's routes a document lists: all but the operator's (health, metrics), which every port has. */
const apiRoutes = (doc: Json) => documentedRoutes(doc).filter((r) => !operational(r.slice(r.indexOf(' ') + 1)));
const ROUTES: Record<Api, string[]> = {
  item: ['GET /', 'GET /{item_id}'],
  alarm: ['DELETE /', 'GET /', 'POST /'],
  user: ['GET /', 'GET /visit'],
};
/** The kit's endpoints, on item 50 (test/conformance/homeshopping/checks.ts). */
const ENDPOINTS = KIT_ENDPOINTS.map((e) => ({ ...e, path: e.path.replace('{item}', '50'), body: e.body?.replace('{item}', '50') }));

describe.each(['pglite', 'pg'] as Backend[])('homeshopping on %s', (backend) => {
  let shop: Shop;
  /** Users handed to tests that change state; user 10 is kept for the contract's examples. */
  const spare = USERS.map((u) => u.id).filter((id) => id !== 10);
  let tokens = new Map<number, string>();
  const freshUser = () => {
    const id = spare.shift();
    if (id === undefined) throw new Error('out of users: give this test an existing one');
    return tokens.get(id)!;
  };

  /** `api` `method` `path` as user 10 unless `token` says otherwise (null: no USER-TOKEN); the harness checks the answer. */
  const send = (api: Api, method: string, path: string, options: CallOptions = {}) =>
    shop[api].call(method, path, { ...options, token: options.token === undefined ? T10 : options.token });
  const alarmCall = (method: 'POST' | 'DELETE', itemId: unknown, token: string) => send('alarm', method, '/', { token, body: { item_id: itemId } });
  /** Status and raw body: `{}` must be exactly `{}`. */
  const answer = ({ status, text }: { status: number; text: string }) => ({ status, text });
  const alarmIds = async (token: string) => (await send('alarm', 'GET', '/', { token })).body.payload.map((i: Item) => i.id);
  const view = async (token: string, ...ids: number[]) => {
    for (const id of ids) expect((await send('item', 'GET', `/${id}`, { token })).status).toBe(200);
  };
  const visits = async (token: string) => (await send('user', 'GET', '/visit', { token })).body;
  const visitIds = async (token: string) => (await visits(token)).payload.map((i: Item) => i.id);

  beforeAll(async () => {
    shop = await startShop({ backend });
    const users = await send('user', 'GET', '/');
    tokens = new Map(users.body.payload.map((u: User) => [u.id, u.access_token]));
  }, 60000);

  afterAll(async () => {
    await shop?.stop();
  }, 30000);

  describe('item GET /', () => {
    test('item list — answers {count, payload} with every item, id descending', async () => {
      const { status, body, headers } = await send('item', 'GET', '/', { token: freshUser() });
      expect(status).toBe(200);
      expect(headers.get('content-type')).toContain('application/json');
      expect(Object.keys(body).sort()).toEqual(['count', 'payload']);
      expect(body.count).toBe(ITEMS.length);
      expect(body.count).toBeGreaterThanOrEqual(100);
      expect(body.payload.map((i: Item) => i.id)).toEqual(ITEMS.map((i) => i.id));
      expect(body.payload).toEqual(ITEMS.map((i) => ({ ...i, is_alarm_set: false })));
    });

    test('item list — each item has exactly id, name, broadcaster, category, price and is_alarm_set, typed', async () => {
      const { body } = await send('item', 'GET', '/');
      for (const i of body.payload) {
        expect(Object.keys(i).sort()).toEqual([...ITEM_KEYS, 'is_alarm_set'].sort());
        expect(Number.isInteger(i.id)).toBe(true);
        expect(typeof i.name).toBe('string');
        expect(typeof i.broadcaster).toBe('string');
        expect(i.category === null || typeof i.category === 'string').toBe(true);
        expect(Number.isInteger(i.price)).toBe(true);
        expect(typeof i.is_alarm_set).toBe('boolean');
      }
      expect(body.payload.some((i: Item) => i.category === null)).toBe(true);
      expect(body.payload.find((i: Item) => i.id === 50)).toEqual({ ...ITEM50, is_alarm_set: false });
    });

    test('item list — is_alarm_set is true for the caller who set the alarm and false for everyone else', async () => {
      const setter = freshUser();
      const other = freshUser();
      expect((await alarmCall('POST', 33, setter)).status).toBe(201);
      const mine = await send('item', 'GET', '/', { token: setter });
      const theirs = await send('item', 'GET', '/', { token: other });
      expect(mine.body.payload.filter((i: Json) => i.is_alarm_set).map((i: Item) => i.id)).toEqual([33]);
      expect(theirs.body.payload.filter((i: Json) => i.is_alarm_set)).toEqual([]);
    });
  });

  describe('item GET /{item_id}', () => {
    test('item detail — answers {payload} with the item and the caller\'s is_alarm_set', async () => {
      const token = freshUser();
      const before = await send('item', 'GET', '/50', { token });
      expect(before.status).toBe(200);
      expect(Object.keys(before.body)).toEqual(['payload']);
      expect(before.body.payload).toEqual({ ...ITEM50, is_alarm_set: false });
      await alarmCall('POST', 50, token);
      expect((await send('item', 'GET', '/50', { token })).body).toEqual({ payload: { ...ITEM50, is_alarm_set: true } });
      expect((await send('item', 'GET', '/50', { token: freshUser() })).body.payload.is_alarm_set).toBe(false);
    });

    test('item detail — renders a null category as null', async () => {
      const nullCategory = ITEMS.find((i) => i.category === null)!;
      expect((await send('item', 'GET', `/${nullCategory.id}`)).body.payload).toEqual({ ...nullCategory, is_alarm_set: false });
    });

    test('item detail — answers 404 {} for an unknown id', async () => {
      for (const id of [String(ITEMS[0]!.id + 1), '0', '2147483648', '99999999999999999999']) {
        const res = await send('item', 'GET', `/${id}`);
        expect({ id, status: res.status, text: res.text }).toEqual({ id, status: 404, text: '{}' });
      }
    });

    test('item detail — answers 404 {} for a non-numeric id', async () => {
      for (const id of ['abc', '1.5', '-3', '1e2', '+5', '%20', '5%20', 'null', '%ZZ', '%']) {
        const res = await send('item', 'GET', `/${id}`);
        expect({ id, status: res.status, text: res.text }).toEqual({ id, status: 404, text: '{}' });
      }
    });

    test('item detail — an id holding a NUL is 400 naming item_id, in the {result, hint} envelope', async () => {
      for (const id of ['%00', '5%00']) {
        const res = await send('item', 'GET', `/${id}`);
        expect({ id, status: res.status, body: res.body }).toEqual({ id, status: 400, body: { result: 'Bad Request', hint: 'item_id: must not contain the NUL character (U+0000)' } });
      }
    });
  });

  describe('alarm POST /', () => {
    test('alarm set — answers 201 {} and the alarm shows in the list and as is_alarm_set', async () => {
      const token = freshUser();
      const res = await alarmCall('POST', 12, token);
      expect({ status: res.status, text: res.text }).toEqual({ status: 201, text: '{}' });
      expect(await alarmIds(token)).toEqual([12]);
      expect((await send('item', 'GET', '/12', { token })).body.payload.is_alarm_set).toBe(true);
    });

    test('alarm set — is idempotent: 201 {} again, and the list still holds one alarm', async () => {
      const token = freshUser();
      expect(answer(await alarmCall('POST', 12, token))).toEqual({ status: 201, text: '{}' });
      expect(answer(await alarmCall('POST', 12, token))).toEqual({ status: 201, text: '{}' });
      expect(answer(await alarmCall('POST', '12', token))).toEqual({ status: 201, text: '{}' });
      expect((await send('alarm', 'GET', '/', { token })).body).toEqual({ count: 1, payload: [itemById.get(12)] });
    });

    test('alarm set — accepts item_id as a JSON number and as a numeric string', async () => {
      const token = freshUser();
      expect((await alarmCall('POST', 1, token)).status).toBe(201);
      expect((await alarmCall('POST', '2', token)).status).toBe(201);
      expect(await alarmIds(token)).toEqual([2, 1]);
    });

    test('alarm set — answers 404 {} for an unknown item and sets nothing', async () => {
      const token = freshUser();
      for (const id of [ITEMS[0]!.id + 1, String(ITEMS[0]!.id + 1), 2147483647]) {
        const res = await alarmCall('POST', id, token);
        expect({ id, status: res.status, text: res.text }).toEqual({ id, status: 404, text: '{}' });
      }
      expect(await alarmIds(token)).toEqual([]);
    });

    test('alarm set — a JSON body sent without Content-Type, or as a form (curl -d), is read as JSON', async () => {
      const token = freshUser();
      // A byte body: no Content-Type at all (a string body would be text/plain).
      const bare = await shop.alarm.transport(new Request('http://localhost/', { method: 'POST', headers: { 'USER-TOKEN': token }, body: new TextEncoder().encode('{"item_id": 50}') }));
      expect(bare.headers.get('content-type')).toContain('application/json');
      expect({ status: bare.status, text: await bare.text() }).toEqual({ status: 201, text: '{}' });
      expect(answer(await send('alarm', 'POST', '/', { token, raw: '{"item_id": 51}', headers: { 'content-type': 'application/x-www-form-urlencoded' } }))).toEqual({ status: 201, text: '{}' });
      expect(await alarmIds(token)).toEqual([51, 50]);
      const form = await send('alarm', 'POST', '/', { token, raw: 'item_id=52', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(form).toMatchObject({ status: 400, body: { result: 'Bad Request', hint: 'the request body is not valid JSON (bodies are JSON: send it with Content-Type: application/json)' } });
    });

    test('alarm set — concurrent sets of one alarm leave one alarm', async () => {
      const token = freshUser();
      const all = await Promise.all(Array.from({ length: 20 }, () => alarmCall('POST', 44, token)));
      expect(all.map((r) => r.status)).toEqual(Array(20).fill(201));
      expect(await alarmIds(token)).toEqual([44]);
    });
  });

  describe('alarm GET /', () => {
    test('alarm list — is ordered by item id descending and shows items without is_alarm_set', async () => {
      const token = freshUser();
      const nullCategory = ITEMS.find((i) => i.category === null)!.id;
      for (const id of [5, 90, nullCategory, 61]) await alarmCall('POST', id, token);
      const { status, body } = await send('alarm', 'GET', '/', { token });
      expect(status).toBe(200);
      expect(Object.keys(body).sort()).toEqual(['count', 'payload']);
      const expected = [5, 90, nullCategory, 61].sort((a, b) => b - a);
      expect(body.count).toBe(4);
      expect(body.payload).toEqual(expected.map((id) => itemById.get(id)));
      for (const i of body.payload) expect(Object.keys(i).sort()).toEqual(ITEM_KEYS);
      expect(body.payload.find((i: Item) => i.id === nullCategory).category).toBeNull();
    });

    test('alarm list — is {count: 0, payload: []} for a user without alarms', async () => {
      expect((await send('alarm', 'GET', '/', { token: freshUser() })).body).toEqual({ count: 0, payload: [] });
    });

    test("alarm list — shows only the caller's alarms", async () => {
      const a = freshUser();
      const b = freshUser();
      await alarmCall('POST', 70, a);
      await alarmCall('POST', 71, b);
      expect(await alarmIds(a)).toEqual([70]);
      expect(await alarmIds(b)).toEqual([71]);
    });
  });

  describe('alarm DELETE /', () => {
    test('alarm clear — answers 200 {} and the alarm is gone from the list and from is_alarm_set', async () => {
      const token = freshUser();
      await alarmCall('POST', 60, token);
      await alarmCall('POST', 61, token);
      const res = await alarmCall('DELETE', 60, token);
      expect({ status: res.status, text: res.text }).toEqual({ status: 200, text: '{}' });
      expect(await alarmIds(token)).toEqual([61]);
      expect((await send('item', 'GET', '/60', { token })).body.payload.is_alarm_set).toBe(false);
      const list = await send('item', 'GET', '/', { token });
      expect(list.body.payload.filter((i: Json) => i.is_alarm_set).map((i: Item) => i.id)).toEqual([61]);
    });

    test('alarm clear — answers 200 {} when no alarm was set, and again after clearing', async () => {
      const token = freshUser();
      expect(answer(await alarmCall('DELETE', 8, token))).toEqual({ status: 200, text: '{}' });
      await alarmCall('POST', 8, token);
      expect(answer(await alarmCall('DELETE', '8', token))).toEqual({ status: 200, text: '{}' });
      expect(answer(await alarmCall('DELETE', 8, token))).toEqual({ status: 200, text: '{}' });
      expect(await alarmIds(token)).toEqual([]);
    });

    test('alarm clear — accepts item_id as a JSON number and as a numeric string', async () => {
      const token = freshUser();
      for (const id of [3, 4]) await alarmCall('POST', id, token);
      expect((await alarmCall('DELETE', '3', token)).status).toBe(200);
      expect((await alarmCall('DELETE', 4, token)).status).toBe(200);
      expect(await alarmIds(token)).toEqual([]);
    });

    test('alarm clear — answers 404 {} for an unknown item', async () => {
      const res = await alarmCall('DELETE', ITEMS[0]!.id + 1, freshUser());
      expect({ status: res.status, text: res.text }).toEqual({ status: 404, text: '{}' });
    });
  });

  describe('bad alarm bodies', () => {
    let token: string;
    beforeAll(() => {
      token = freshUser();
    });

    for (const method of ['POST', 'DELETE'] as const) {
      const verb = method === 'POST' ? 'alarm set' : 'alarm clear';
      for (const [label, body] of BAD_ITEM_IDS) {
        test(`${verb} — rejects item_id ${label} with 400 naming item_id`, async () => {
          const res = await send('alarm', method, '/', { token, raw: body });
          expect(res.status).toBe(400);
          expect(Object.keys(res.body).sort()).toEqual(['hint', 'result']);
          expect(res.body.result).toBe('Bad Request');
          expect(res.body.hint).toContain('item_id');
        });
      }

      test(`${verb} — rejects malformed JSON with 400`, async () => {
        for (const body of ['{"item_id":', '{item_id: 1}', "{'item_id':1}", 'nope']) {
          const res = await send('alarm', method, '/', { token, raw: body });
          expect({ body, status: res.status, result: res.body.result, hint: typeof res.body.hint }).toEqual({ body, status: 400, result: 'Bad Request', hint: 'string' });
        }
      });

      test(`${verb} — rejects an empty body with 400`, async () => {
        for (const res of [await send('alarm', method, '/', { token }), await send('alarm', method, '/', { token, raw: '' })]) {
          expect(res.status).toBe(400);
          expect(res.body).toMatchObject({ result: 'Bad Request', hint: expect.any(String) });
        }
      });

      test(`${verb} — refuses a body over MAX_BODY_BYTES (1 MiB) with 413 in the envelope`, async () => {
        const body = JSON.stringify({ item_id: 1, padding: 'x'.repeat(1024 * 1024) });
        const res = await send('alarm', method, '/', { token, raw: body });
        expect(res).toMatchObject({ status: 413, body: { result: 'Payload Too Large', hint: 'the request body must be at most 1048576 bytes' } });
        // Just under the limit it is read (and refused for what it holds: the contract has no padding, which is ignored).
        const under = JSON.stringify({ item_id: 'x', padding: 'x'.repeat(1024 * 1024 - 40) });
        expect((await send('alarm', method, '/', { token, raw: under })).status).toBe(400);
      });

      test(`${verb} — rejects a JSON body that is not an object with 400`, async () => {
        for (const body of ['[1]', '12', '"12"']) expect((await send('alarm', method, '/', { token, raw: body })).status).toBe(400);
      });
    }

    test('alarm bodies — none of the rejected requests set an alarm', async () => {
      expect(await alarmIds(token)).toEqual([]);
    });
  });

  describe('USER-TOKEN', () => {
    for (const { api, method, path, body } of ENDPOINTS) {
      test(`${api} ${method} ${path} — answers 401 without USER-TOKEN`, async () => {
        const res = await send(api, method, path, { token: null, raw: body });
        expect({ status: res.status, body: res.body }).toEqual({
          status: 401,
          body: { result: 'Unauthorized', hint: 'USER-TOKEN header is missing' },
        });
      });

      test(`${api} ${method} ${path} — answers 401 to an unknown USER-TOKEN`, async () => {
        const res = await send(api, method, path, { token: NOT_A_TOKEN, raw: body });
        expect(res.status).toBe(401);
        expect(Object.keys(res.body).sort()).toEqual(['hint', 'result']);
        expect(res.body.result).toBe('Unauthorized');
        expect(res.body.hint).toContain('USER-TOKEN');
      });
    }

    test('USER-TOKEN — is checked before the body: no token and malformed JSON is 401', async () => {
      for (const method of ['POST', 'DELETE']) {
        expect((await send('alarm', method, '/', { token: null, raw: '{bad' })).status).toBe(401);
      }
    });

    test('USER-TOKEN — a request with an unknown token changes nothing', async () => {
      expect((await send('alarm', 'POST', '/', { token: NOT_A_TOKEN, raw: '{"item_id":9}' })).status).toBe(401);
      expect((await send('item', 'GET', '/9', { token: NOT_A_TOKEN })).status).toBe(401);
      const anyone = [...tokens.values()];
      for (const token of anyone) {
        const list = await send('item', 'GET', '/', { token });
        expect(list.body.payload.find((i: Json) => i.id === 9).is_alarm_set).toBe(false);
      }
    });
  });

  describe('user GET /', () => {
    test('user list — answers {count, payload} with every user, id descending, tokens included', async () => {
      const { status, body } = await send('user', 'GET', '/');
      expect(status).toBe(200);
      expect(Object.keys(body).sort()).toEqual(['count', 'payload']);
      expect(body.count).toBe(USERS.length);
      expect(body.count).toBeGreaterThanOrEqual(50);
      expect(body.payload).toEqual(USERS);
      for (const u of body.payload) {
        expect(Object.keys(u).sort()).toEqual(['access_token', 'id', 'name']);
        expect(Number.isInteger(u.id)).toBe(true);
        expect(typeof u.name).toBe('string');
        expect(typeof u.access_token).toBe('string');
      }
      expect(body.payload.find((u: User) => u.id === 10)).toEqual({ id: 10, name: '박규경', access_token: T10 });
      expect(new Set(body.payload.map((u: User) => u.access_token)).size).toBe(body.count);
    });

    test('user list — every listed token is accepted by the item, alarm and user APIs', async () => {
      const statuses = new Set<number>();
      for (const u of USERS) {
        for (const api of ['item', 'alarm', 'user'] as Api[]) statuses.add((await send(api, 'GET', '/', { token: u.access_token })).status);
      }
      expect([...statuses]).toEqual([200]);
    });
  });

  describe('user GET /visit', () => {
    test('recent visits — A, B, C, D, E, E gives E, D, C', async () => {
      const token = freshUser();
      await view(token, 1, 2, 3, 4, 5, 5);
      expect(await visitIds(token)).toEqual([5, 4, 3]);
    });

    test('recent visits — A, B, A gives A, B, A: only consecutive repeats collapse', async () => {
      const token = freshUser();
      await view(token, 1, 2, 1);
      expect(await visitIds(token)).toEqual([1, 2, 1]);
    });

    test('recent visits — hold at most 3 entries', async () => {
      const token = freshUser();
      await view(token, 11, 12, 13, 14, 15, 16, 17);
      expect(await visits(token)).toMatchObject({ count: 3 });
      expect(await visitIds(token)).toEqual([17, 16, 15]);
    });

    test('recent visits — consecutive repeats collapse into one entry, however long the run', async () => {
      const token = freshUser();
      await view(token, 21, 21, 22, 22, 22, 23, 23);
      expect(await visitIds(token)).toEqual([23, 22, 21]);
      await view(token, 24, ...Array(70).fill(25));
      expect(await visitIds(token)).toEqual([25, 24, 23]);
    });

    test('recent visits — each entry is the full item with the caller\'s is_alarm_set', async () => {
      const token = freshUser();
      await alarmCall('POST', 50, token);
      const nullCategory = ITEMS.find((i) => i.category === null)!;
      await view(token, nullCategory.id, 49, 50);
      const body = await visits(token);
      expect(Object.keys(body).sort()).toEqual(['count', 'payload']);
      expect(body).toEqual({
        count: 3,
        payload: [
          { ...ITEM50, is_alarm_set: true },
          { ...itemById.get(49), is_alarm_set: false },
          { ...nullCategory, is_alarm_set: false },
        ],
      });
      await alarmCall('DELETE', 50, token);
      await alarmCall('POST', 49, token);
      expect((await visits(token)).payload.map((i: Json) => [i.id, i.is_alarm_set])).toEqual([[50, false], [49, true], [nullCategory.id, false]]);
    });

    test('recent visits — a visit shows as soon as GET /{item_id} has returned', async () => {
      const token = freshUser();
      for (const id of [31, 32, 31, 33, 34]) {
        await view(token, id);
        expect((await visitIds(token))[0]).toBe(id);
      }
    });

    test('recent visits — are {count: 0, payload: []} before any visit', async () => {
      expect(await visits(freshUser())).toEqual({ count: 0, payload: [] });
    });

    test('recent visits — a 404 detail view records no visit', async () => {
      const token = freshUser();
      await view(token, 40);
      expect((await send('item', 'GET', `/${ITEMS[0]!.id + 1}`, { token })).status).toBe(404);
      expect((await send('item', 'GET', '/abc', { token })).status).toBe(404);
      expect(await visitIds(token)).toEqual([40]);
    });

    test("recent visits — are the caller's own", async () => {
      const a = freshUser();
      const b = freshUser();
      await view(a, 41, 42);
      await view(b, 43);
      expect(await visitIds(a)).toEqual([42, 41]);
      expect(await visitIds(b)).toEqual([43]);
    });

    test('recent visits — the item list records no visit', async () => {
      const token = freshUser();
      await send('item', 'GET', '/', { token });
      expect(await visitIds(token)).toEqual([]);
    });
  });

  describe('API documentation', () => {
    const docs = new Map<Api, Json>();
    const apis: Api[] = ['item', 'alarm', 'user'];

    beforeAll(async () => {
      for (const api of apis) docs.set(api, (await send(api, 'GET', '/openapi.json', { token: null })).body);
    });

    for (const api of apis) {
      test(`${api} docs — /openapi.json is an OpenAPI 3 document listing exactly the routes the port serves`, async () => {
        const res = await send(api, 'GET', '/openapi.json', { token: null });
        expect(res.status).toBe(200);
        const doc = res.body;
        expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
        expect(typeof doc.info?.title).toBe('string');
        expect(apiRoutes(doc)).toEqual(ROUTES[api]);
        // …and the operator's, answered beside the app without a token.
        expect(documentedRoutes(doc).filter((r) => !ROUTES[api].includes(r))).toEqual(['GET /healthz', 'GET /metrics', 'GET /readyz']);
        for (const path of ['/healthz', '/readyz', '/metrics']) expect(doc.paths[path].get.security).toEqual([]);
        // …and those are what the app really routes, besides the documentation itself.
        const app = shop.system.apps.get(shop.ports[api]!)!;
        const served = app.routes.map((r: { method: string; path: string }) => `${r.method} ${r.path.replace(/:(\w+)/g, '{$1}')}`);
        expect(served).toContain('GET /docs');
        expect(served).toContain('GET /openapi.json');
        // (the reference page's own assets are under /docs/)
        expect(served.filter((r: string) => r !== 'GET /openapi.json' && r !== 'GET /docs' && !r.startsWith('GET /docs/')).sort()).toEqual(apiRoutes(doc));
        for (const route of apiRoutes(doc)) {
          const [method, path] = route.split(' ');
          const op = doc.paths[path!][method!.toLowerCase()];
          expect(Object.keys(op.responses ?? {}).length).toBeGreaterThan(0);
          expect(op.parameters?.some((p: Json) => p.in === 'header' && p.name.toLowerCase() === 'user-token')).toBe(true);
        }
      });

      test(`${api} docs — /docs answers 200 HTML without a token`, async () => {
        const res = await send(api, 'GET', '/docs', { token: null });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/html');
        expect(res.text.toLowerCase()).toContain('<html');
      });
    }

    test('API documentation — each API serves the published document (test/conformance/homeshopping-*.openapi.json), after all the traffic above too', () => {
      for (const api of apis) expect({ api, document: comparable(docs.get(api)!) }).toEqual({ api, document: comparable(published(api)) });
    });

    test('API documentation — the schema check rejects bodies that break the declared schema', () => {
      const item = docs.get('item')!;
      const list = item.paths['/'].get.responses['200'].content['application/json'].schema;
      const good = { count: 1, payload: [{ ...ITEM50, is_alarm_set: false }] };
      expect(conformance(list, good)).toBeNull();
      expect(conformance(list, { count: 1, payload: [{ ...ITEM50, id: '50', is_alarm_set: false }] })).not.toBeNull();
      expect(conformance(list, { count: 1, payload: [{ ...ITEM50 }] })).not.toBeNull();
      expect(conformance(list, { count: 1, payload: [{ ...ITEM50, category: 3, is_alarm_set: false }] })).not.toBeNull();
      expect(conformance(list, { count: 1, payload: [{ ...ITEM50, category: null, is_alarm_set: false }] })).toBeNull();
      expect(conformance(list, { payload: [] })).not.toBeNull();
      const empty = docs.get('alarm')!.paths['/'].post.responses['201'].content['application/json'].schema;
      expect(conformance(empty, {})).toBeNull();
      expect(conformance(empty, { ok: true })).not.toBeNull();
      expect(() => schemaFromJson({ type: 'string', format: 'uuid' })).toThrow('format');
    });
  });
});
