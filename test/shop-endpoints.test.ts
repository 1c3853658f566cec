import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { schemaProblem } from './support/json-schema.ts';
import { startTestSystem, type Backend, type TestSystem } from './support/system.ts';

/** Every homeshopping endpoint as a client sees it, on PGlite and on real Postgres. */
const ITEM = 5001;
const ALARM = 6001;
const USER = 7001;
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
const ITEM50 = { id: 50, name: '[역대최다-13종]17WINTER 레그미인', broadcaster: 'cjmall', category: '패션·잡화', price: 78900 };

type Json = Record<string, any>;

for (const backend of ['pglite', 'pg'] as Backend[]) {
  describe(`homeshopping on ${backend}`, () => {
    let t: TestSystem;
    let tokens: string[] = [];
    const responses: { port: number; method: string; path: string; status: number; body: unknown }[] = [];

    const send = async (port: number, method: string, path: string, opts: { token?: string | null; body?: string; type?: string } = {}) => {
      const headers: Record<string, string> = {};
      if (opts.token !== null) headers['USER-TOKEN'] = opts.token ?? T10;
      if (opts.body !== undefined) headers['content-type'] = opts.type ?? 'application/json';
      const res = await t.call(port, path, { method, headers, body: opts.body });
      const text = await res.text();
      const body = text ? JSON.parse(text) : undefined;
      responses.push({ port, method, path, status: res.status, body });
      return { status: res.status, body: body as Json, type: res.headers.get('content-type') };
    };
    const alarm = (method: 'POST' | 'DELETE', itemId: unknown, token?: string) =>
      send(ALARM, method, '/', { token, body: JSON.stringify({ item_id: itemId }) });
    const tok = (id: number) => tokens[id - 1]!;

    beforeAll(async () => {
      t = await startTestSystem(backend);
      const users = await send(USER, 'GET', '/');
      tokens = (users.body.payload as { id: number; access_token: string }[]).sort((a, b) => a.id - b.id).map((u) => u.access_token);
    }, 60000);

    afterAll(async () => {
      await t?.stop();
    }, 30000);

    describe('item GET /', () => {
      test('lists every item, id descending, with is_alarm_set for the caller', async () => {
        const { status, body, type } = await send(ITEM, 'GET', '/');
        expect(status).toBe(200);
        expect(type).toContain('application/json');
        expect(body.count).toBe(100);
        expect(body.payload).toHaveLength(100);
        expect(body.payload.map((i: Json) => i.id)).toEqual(Array.from({ length: 100 }, (_, i) => 100 - i));
        for (const i of body.payload) expect(Object.keys(i).sort()).toEqual(['broadcaster', 'category', 'id', 'is_alarm_set', 'name', 'price']);
        expect(body.payload.find((i: Json) => i.id === 50)).toEqual({ ...ITEM50, is_alarm_set: false });
        expect(body.payload.filter((i: Json) => i.category === null)).toHaveLength(2);
      });

      test('shows is_alarm_set true only for the caller who set it', async () => {
        expect((await alarm('POST', 33, tok(2))).status).toBe(201);
        const mine = await send(ITEM, 'GET', '/', { token: tok(2) });
        const theirs = await send(ITEM, 'GET', '/', { token: tok(3) });
        expect(mine.body.payload.filter((i: Json) => i.is_alarm_set).map((i: Json) => i.id)).toEqual([33]);
        expect(theirs.body.payload.filter((i: Json) => i.is_alarm_set)).toEqual([]);
      });
    });

    describe('item GET /{item_id}', () => {
      test('answers one item with is_alarm_set', async () => {
        expect(await send(ITEM, 'GET', '/50', { token: tok(4) })).toMatchObject({ status: 200, body: { payload: { ...ITEM50, is_alarm_set: false } } });
        await alarm('POST', 50, tok(4));
        expect((await send(ITEM, 'GET', '/50', { token: tok(4) })).body.payload.is_alarm_set).toBe(true);
      });

      test('answers 404 {} for an unknown or non-numeric id', async () => {
        for (const id of ['101', '0', '999999999999999999999', 'abc', '1.5', '-3', '%20']) {
          expect(await send(ITEM, 'GET', `/${id}`)).toMatchObject({ status: 404, body: {} });
          expect(Object.keys((await send(ITEM, 'GET', `/${id}`)).body)).toEqual([]);
        }
      });

      test('records the visit: it shows in /visit right away', async () => {
        await send(ITEM, 'GET', '/17', { token: tok(5) });
        expect((await send(USER, 'GET', '/visit', { token: tok(5) })).body.payload.map((i: Json) => i.id)).toEqual([17]);
      });
    });

    describe('alarm POST /', () => {
      test('sets the alarm: 201 {}, twice is still one alarm', async () => {
        expect(await alarm('POST', 12, tok(6))).toMatchObject({ status: 201, body: {} });
        expect(await alarm('POST', '12', tok(6))).toMatchObject({ status: 201, body: {} });
        const list = await send(ALARM, 'GET', '/', { token: tok(6) });
        expect(list.body).toEqual({ count: 1, payload: [(await send(ITEM, 'GET', '/12', { token: tok(6) })).body.payload].map(({ is_alarm_set, ...i }: Json) => i) });
      });

      test('accepts item_id as a number or a numeric string', async () => {
        expect((await alarm('POST', 1, tok(7))).status).toBe(201);
        expect((await alarm('POST', '2', tok(7))).status).toBe(201);
        expect((await send(ALARM, 'GET', '/', { token: tok(7) })).body.payload.map((i: Json) => i.id)).toEqual([2, 1]);
      });

      test('answers 404 {} for an unknown item', async () => {
        expect(await alarm('POST', 101, tok(7))).toMatchObject({ status: 404, body: {} });
        expect(await alarm('POST', '2147483647', tok(7))).toMatchObject({ status: 404, body: {} });
      });

      test('concurrent sets by one user leave one alarm', async () => {
        await Promise.all(Array.from({ length: 20 }, () => alarm('POST', 44, tok(8))));
        expect((await send(ALARM, 'GET', '/', { token: tok(8) })).body.count).toBe(1);
      });
    });

    describe('alarm GET /', () => {
      test('lists the alarmed items, item id descending, without is_alarm_set', async () => {
        for (const id of [5, 90, 23]) await alarm('POST', id, tok(9));
        const { status, body } = await send(ALARM, 'GET', '/', { token: tok(9) });
        expect(status).toBe(200);
        expect(body.count).toBe(3);
        expect(body.payload.map((i: Json) => i.id)).toEqual([90, 23, 5]);
        for (const i of body.payload) expect(Object.keys(i).sort()).toEqual(['broadcaster', 'category', 'id', 'name', 'price']);
        expect(body.payload.find((i: Json) => i.id === 23).category).toBeNull();
      });

      test('is empty for a user without alarms', async () => {
        expect(await send(ALARM, 'GET', '/', { token: tok(49) })).toMatchObject({ status: 200, body: { count: 0, payload: [] } });
      });
    });

    describe('alarm DELETE /', () => {
      test('clears the alarm: 200 {}, also when none was set', async () => {
        await alarm('POST', 60, tok(20));
        expect(await alarm('DELETE', '60', tok(20))).toMatchObject({ status: 200, body: {} });
        expect((await send(ALARM, 'GET', '/', { token: tok(20) })).body.count).toBe(0);
        expect((await send(ITEM, 'GET', '/60', { token: tok(20) })).body.payload.is_alarm_set).toBe(false);
        expect(await alarm('DELETE', 60, tok(20))).toMatchObject({ status: 200, body: {} });
      });

      test('answers 404 {} for an unknown item', async () => {
        expect(await alarm('DELETE', 555, tok(20))).toMatchObject({ status: 404, body: {} });
      });
    });

    describe('bad input on alarm POST and DELETE', () => {
      const bad: [string, string | undefined][] = [
        ['"abc"', '{"item_id":"abc"}'],
        ['1.5', '{"item_id":1.5}'],
        ['-3', '{"item_id":-3}'],
        ['0', '{"item_id":0}'],
        ['"0"', '{"item_id":"0"}'],
        ['"-3"', '{"item_id":"-3"}'],
        ['"1.5"', '{"item_id":"1.5"}'],
        ['""', '{"item_id":""}'],
        ['null', '{"item_id":null}'],
        ['true', '{"item_id":true}'],
        ['[]', '{"item_id":[]}'],
        ['{}', '{"item_id":{}}'],
        ['a huge number', '{"item_id":1e30}'],
        ['missing', '{}'],
        ['an array body', '[1]'],
      ];
      for (const method of ['POST', 'DELETE'] as const) {
        for (const [what, body] of bad) {
          test(`${method} with item_id ${what} is 400 naming item_id`, async () => {
            const res = await send(ALARM, method, '/', { body });
            expect(res.status).toBe(400);
            expect(res.body.result).toBe('Bad Request');
            expect(res.body.hint).toContain(what === 'an array body' ? '' : 'item_id');
          });
        }
        test(`${method} with malformed JSON is 400`, async () => {
          expect(await send(ALARM, method, '/', { body: '{"item_id":' })).toMatchObject({
            status: 400,
            body: { result: 'Bad Request', hint: 'the request body is not valid JSON' },
          });
        });
        test(`${method} without a body is 400`, async () => {
          expect((await send(ALARM, method, '/')).status).toBe(400);
        });
      }
    });

    describe('user GET /', () => {
      test('lists every user, id descending, with tokens', async () => {
        const { status, body } = await send(USER, 'GET', '/');
        expect(status).toBe(200);
        expect(body.count).toBe(50);
        expect(body.payload.map((u: Json) => u.id)).toEqual(Array.from({ length: 50 }, (_, i) => 50 - i));
        expect(body.payload.find((u: Json) => u.id === 10)).toEqual({ id: 10, name: '박규경', access_token: T10 });
        for (const u of body.payload) expect(Object.keys(u).sort()).toEqual(['access_token', 'id', 'name']);
      });
    });

    describe('user GET /visit', () => {
      const visit = (token: string, ids: number[]) => Promise.all([]).then(async () => {
        for (const id of ids) expect((await send(ITEM, 'GET', `/${id}`, { token })).status).toBe(200);
      });
      const recent = async (token: string) => (await send(USER, 'GET', '/visit', { token })).body;

      test('A, B, C, D, E, E gives E, D, C', async () => {
        await visit(tok(30), [1, 2, 3, 4, 5, 5]);
        expect((await recent(tok(30))).payload.map((i: Json) => i.id)).toEqual([5, 4, 3]);
      });

      test('A, B, A gives A, B, A: only consecutive repeats collapse', async () => {
        await visit(tok(31), [1, 2, 1]);
        expect((await recent(tok(31))).payload.map((i: Json) => i.id)).toEqual([1, 2, 1]);
      });

      test('a long run of one item collapses into one entry', async () => {
        await visit(tok(32), [7, 8, ...Array(70).fill(9)]);
        expect((await recent(tok(32))).payload.map((i: Json) => i.id)).toEqual([9, 8, 7]);
      });

      test('has full item fields with is_alarm_set, and count', async () => {
        await alarm('POST', 50, tok(33));
        await visit(tok(33), [49, 50]);
        const body = await recent(tok(33));
        expect(body.count).toBe(2);
        expect(body.payload[0]).toEqual({ ...ITEM50, is_alarm_set: true });
        expect(body.payload[1].is_alarm_set).toBe(false);
      });

      test('is empty before any visit', async () => {
        expect(await recent(tok(48))).toEqual({ count: 0, payload: [] });
      });
    });

    describe('USER-TOKEN on every endpoint', () => {
      const endpoints: [number, string, string, string?][] = [
        [ITEM, 'GET', '/'],
        [ITEM, 'GET', '/50'],
        [ALARM, 'POST', '/', '{"item_id":1}'],
        [ALARM, 'GET', '/'],
        [ALARM, 'DELETE', '/', '{"item_id":1}'],
        [USER, 'GET', '/'],
        [USER, 'GET', '/visit'],
      ];
      for (const [port, method, path, body] of endpoints) {
        test(`${method} ${port}${path} without a token is 401`, async () => {
          expect(await send(port, method, path, { token: null, body })).toMatchObject({
            status: 401,
            body: { result: 'Unauthorized', hint: 'USER-TOKEN header is missing' },
          });
        });
        test(`${method} ${port}${path} with an unknown token is 401`, async () => {
          const res = await send(port, method, path, { token: 'not-a-token', body });
          expect(res.status).toBe(401);
          expect(res.body.result).toBe('Unauthorized');
        });
        test(`${method} ${port}${path} checks the token before the body`, async () => {
          if (!body) return expect((await send(port, method, path, { token: null })).status).toBe(401);
          expect((await send(port, method, path, { token: null, body: '{bad' })).status).toBe(401);
        });
      }
    });

    if (backend === 'pg') {
      describe('with the item database down', () => {
        test('item reads still answer from memory and a detail view still records its visit (straight to the stream)', async () => {
          const url = new URL(t.databaseUrl('item')!);
          const dbName = url.pathname.slice(1);
          const admin = new (await import('pg')).default.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
          await admin.connect();
          try {
            await admin.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS false`);
            await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [dbName]);
            expect((await send(ITEM, 'GET', '/', { token: tok(45) })).status).toBe(200);
            expect((await send(ITEM, 'GET', '/66', { token: tok(45) })).status).toBe(200);
            expect((await send(USER, 'GET', '/visit', { token: tok(45) })).body.payload.map((i: Json) => i.id)).toEqual([66]);
          } finally {
            await admin.query(`ALTER DATABASE "${dbName}" ALLOW_CONNECTIONS true`);
            await admin.end();
          }
        });
      });
    }

    describe('the domains on the bus', () => {
      const code = async (p: Promise<unknown>) => p.then(() => 'ok', (e: { code?: string }) => e.code);
      test('item.get and item.list answer what the item API shows', async () => {
        expect(await t.system.bus.request('item.get', { id: 50 })).toEqual(ITEM50);
        expect(await code(t.system.bus.request('item.get', { id: 999 }))).toBe('ITEM.NOT_FOUND');
        expect(await code(t.system.bus.request('item.get', { id: 'x' }))).toBe('ITEM.INVALID');
        expect(((await t.system.bus.request('item.list', {})) as Json[]).map((i) => i.id).slice(0, 2)).toEqual([100, 99]);
      });
      test('alarm.of-user answers the alarm set', async () => {
        await alarm('POST', 3, tok(40));
        await alarm('POST', 1, tok(40));
        expect(await t.system.bus.request('alarm.of-user', { userId: 40 })).toEqual({ userId: 40, itemIds: [1, 3] });
        expect(await code(t.system.bus.request('alarm.of-user', {}))).toBe('ALARM.INVALID');
      });
      test('user.authenticate and user.recent-visits answer for the user domain', async () => {
        expect(await t.system.bus.request('user.authenticate', { token: T10 })).toEqual({ id: 10, name: '박규경', access_token: T10 });
        expect(await code(t.system.bus.request('user.authenticate', { token: 'nope' }))).toBe('USER.UNAUTHORIZED');
        await send(ITEM, 'GET', '/8', { token: tok(41) });
        expect(await t.system.bus.request('user.recent-visits', { userId: 41 })).toEqual({ itemIds: [8] });
      });
    });

    describe('unknown routes and documentation', () => {
      test('an unknown route is 404 with the error object', async () => {
        expect(await send(USER, 'GET', '/nothing/here')).toMatchObject({ status: 404, body: { result: 'Not Found' } });
      });

      for (const port of [ITEM, ALARM, USER]) {
        test(`port ${port} serves /docs and an OpenAPI 3 document of exactly its routes`, async () => {
          const docs = await t.call(port, '/docs');
          expect(docs.status).toBe(200);
          expect(docs.headers.get('content-type')).toContain('text/html');
          const doc = (await (await t.call(port, '/openapi.json')).json()) as Json;
          expect(doc.openapi).toMatch(/^3\./);
          const routes = Object.entries(doc.paths as Json).flatMap(([p, ops]) => Object.keys(ops as Json).map((m) => `${m.toUpperCase()} ${p}`)).sort();
          const expected = {
            [ITEM]: ['GET /', 'GET /{item_id}'],
            [ALARM]: ['DELETE /', 'GET /', 'POST /'],
            [USER]: ['GET /', 'GET /visit'],
          }[port];
          expect(routes).toEqual(expected!);
        });
      }

      test('the schema check itself rejects a body that breaks the declared schema', async () => {
        const doc = (await (await t.call(ITEM, '/openapi.json')).json()) as Json;
        const schema = doc.paths['/'].get.responses['200'].content['application/json'].schema;
        expect(schemaProblem(schema, { count: 1, payload: [{ id: 'x' }] })).not.toBeNull();
        expect(schemaProblem(schema, { count: 0, payload: [] })).toBeNull();
      });

      test('every response given in these tests matches the schema its OpenAPI document declares', async () => {
        const docs = new Map<number, Json>();
        for (const port of [ITEM, ALARM, USER]) docs.set(port, await (await t.call(port, '/openapi.json')).json());
        let checked = 0;
        for (const r of responses) {
          const doc = docs.get(r.port)!;
          const path = r.path === '/' || r.path === '/visit' ? r.path : '/{item_id}';
          const op = doc.paths[path]?.[r.method.toLowerCase()];
          if (!op || r.body === undefined) continue;
          const declared = op.responses?.[String(r.status)];
          expect({ route: `${r.method} ${r.port}${r.path}`, status: r.status, declared: declared !== undefined }).toEqual({
            route: `${r.method} ${r.port}${r.path}`,
            status: r.status,
            declared: true,
          });
          const schema = declared.content?.['application/json']?.schema;
          if (!schema) continue;
          const problem = schemaProblem(schema, r.body);
          expect({ route: `${r.method} ${r.port}${r.path}`, status: r.status, problem }).toEqual({ route: `${r.method} ${r.port}${r.path}`, status: r.status, problem: null });
          checked++;
        }
        expect(checked).toBeGreaterThan(50);
      });

      test('no response in these tests was a 500', () => {
        expect(responses.filter((r) => r.status >= 500)).toEqual([]);
      });
    });
  });
}
