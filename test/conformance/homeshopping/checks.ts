/**
 * The homeshopping checks (shared/specs/homeshopping.md): the assignment's seven endpoints, the
 * `/visit` rules, USER-TOKEN on every one, and the bad bodies. They hold for any data: items and
 * users are read from the APIs, expectations are about what the check itself did.
 */
import { anyInteger, anyString, checksOf, expectAnswer, expectEqual, expectExactly, expectThat, matcher, type Check } from '../kit.ts';
import { ITEM_KEYS, NOT_A_TOKEN, type Api, type Item, type ShopContext } from './context.ts';

const items = checksOf<ShopContext>('items');
const alarms = checksOf<ShopContext>('alarms');
const users = checksOf<ShopContext>('users');
const visits = checksOf<ShopContext>('visits');
const tokens = checksOf<ShopContext>('tokens');
const input = checksOf<ShopContext>('input');

const ids = (list: { id: number }[]) => list.map((i) => i.id);
const descending = (list: number[]) => [...list].sort((a, b) => b - a);
const anyCategory = matcher('a string or null', (v) => v === null || typeof v === 'string');
const anyBoolean = matcher('a boolean', (v) => typeof v === 'boolean');
const ITEM_SHAPE = { id: anyInteger, name: anyString, broadcaster: anyString, category: anyCategory, price: anyInteger };
const withAlarm = (item: Item, set: boolean) => ({ ...item, is_alarm_set: set });

/** Every endpoint of the contract, with a body where it takes one (`{item}`: an item's id). */
export const ENDPOINTS: { api: Api; method: string; path: string; body?: string }[] = [
  { api: 'item', method: 'GET', path: '/' },
  { api: 'item', method: 'GET', path: '/{item}' },
  { api: 'alarm', method: 'POST', path: '/', body: '{"item_id":{item}}' },
  { api: 'alarm', method: 'GET', path: '/' },
  { api: 'alarm', method: 'DELETE', path: '/', body: '{"item_id":{item}}' },
  { api: 'user', method: 'GET', path: '/' },
  { api: 'user', method: 'GET', path: '/visit' },
];

/** Every bad shape of item_id: label → request body. */
export const BAD_ITEM_IDS: [string, string][] = [
  ['"abc"', '{"item_id":"abc"}'],
  ['1.5', '{"item_id":1.5}'],
  ['-3', '{"item_id":-3}'],
  ['0', '{"item_id":0}'],
  ['""', '{"item_id":""}'],
  ['null', '{"item_id":null}'],
  ['true', '{"item_id":true}'],
  ['[]', '{"item_id":[]}'],
  ['{}', '{"item_id":{}}'],
  ['missing', '{}'],
  ['a huge number', '{"item_id":1e30}'],
  ['a huge numeric string', '{"item_id":"99999999999999999999"}'],
  ['"1.5"', '{"item_id":"1.5"}'],
  ['"-3"', '{"item_id":"-3"}'],
  ['"0"', '{"item_id":"0"}'],
  ['" 12"', '{"item_id":" 12"}'],
];

const itemChecks = [
  items('item list — answers {count, payload} with every item, id descending', async (ctx) => {
    const token = await ctx.borrow();
    const res = expectAnswer(await ctx.call('item', 'GET', '/', { token }), 200);
    expectThat((res.headers.get('content-type') ?? '').includes('application/json'), 'the answer is not JSON', res);
    expectEqual(Object.keys(res.body).sort(), ['count', 'payload'], 'the keys', res);
    expectEqual(res.body.count, res.body.payload.length, 'count', res);
    expectEqual(ids(res.body.payload), descending(ids(res.body.payload)), 'the item ids, descending', res);
    expectThat(new Set(ids(res.body.payload)).size === res.body.count, 'an item is listed twice', res);
    expectEqual(res.body.payload, (await ctx.data()).items.map((i) => withAlarm(i, false)), 'the items of a user without alarms', res);
  }),

  items('item list — each item has exactly id, name, broadcaster, category, price and is_alarm_set, typed', async (ctx) => {
    const res = expectAnswer(await ctx.call('item', 'GET', '/'), 200);
    for (const item of res.body.payload) expectEqual(item, { ...ITEM_SHAPE, is_alarm_set: anyBoolean }, `item ${item.id}`, res);
  }),

  items('item list — is_alarm_set is true for the caller who set the alarm and false for everyone else', async (ctx) => {
    const [setter, other] = [await ctx.borrow(), await ctx.borrow()];
    const item = await ctx.itemAt(3);
    expectAnswer(await ctx.setAlarm('POST', item.id, setter), 201);
    const mine = expectAnswer(await ctx.call('item', 'GET', '/', { token: setter }), 200);
    expectEqual(ids(mine.body.payload.filter((i: { is_alarm_set: boolean }) => i.is_alarm_set)), [item.id], "the setter's alarms", mine);
    const theirs = expectAnswer(await ctx.call('item', 'GET', '/', { token: other }), 200);
    expectEqual(theirs.body.payload.filter((i: { is_alarm_set: boolean }) => i.is_alarm_set), [], "someone else's alarms", theirs);
  }),

  items("item detail — answers {payload} with the item and the caller's is_alarm_set", async (ctx) => {
    const [token, other] = [await ctx.borrow(), await ctx.borrow()];
    const item = await ctx.itemAt(4);
    expectExactly(await ctx.call('item', 'GET', `/${item.id}`, { token }), 200, { payload: withAlarm(item, false) });
    expectAnswer(await ctx.setAlarm('POST', item.id, token), 201);
    expectExactly(await ctx.call('item', 'GET', `/${item.id}`, { token }), 200, { payload: withAlarm(item, true) });
    expectAnswer(await ctx.call('item', 'GET', `/${item.id}`, { token: other }), 200, { payload: { is_alarm_set: false } });
  }),

  items('item detail — is the item as listed, a null category as null', async (ctx) => {
    const { items: all } = await ctx.data();
    const token = await ctx.borrow();
    const sample = [...all.filter((i) => i.category === null), all[0]!, all[all.length - 1]!];
    for (const item of sample) expectExactly(await ctx.call('item', 'GET', `/${item.id}`, { token }), 200, { payload: withAlarm(item, false) });
  }),

  items('item detail — answers 404 {} for an unknown id', async (ctx) => {
    for (const id of [String(await ctx.unknownItemId()), '0', '2147483648', '99999999999999999999']) expectExactly(await ctx.call('item', 'GET', `/${id}`), 404, {});
  }),

  items('item detail — answers 404 {} for a non-numeric id', async (ctx) => {
    for (const id of ['abc', '1.5', '-3', '1e2', '+5', '%20', '5%20', 'null', '%ZZ', '%']) expectExactly(await ctx.call('item', 'GET', `/${id}`), 404, {});
  }),
];

const alarmChecks = [
  alarms('alarm set — answers 201 {} and the alarm shows in the list and as is_alarm_set', async (ctx) => {
    const token = await ctx.borrow();
    const item = await ctx.itemAt(5);
    expectExactly(await ctx.setAlarm('POST', item.id, token), 201, {});
    expectEqual(await ctx.alarmIds(token), [item.id], 'the alarm list');
    expectAnswer(await ctx.call('item', 'GET', `/${item.id}`, { token }), 200, { payload: { is_alarm_set: true } });
  }),

  alarms('alarm set — is idempotent: 201 {} again, and the list still holds one alarm', async (ctx) => {
    const token = await ctx.borrow();
    const item = await ctx.itemAt(5);
    for (const id of [item.id, item.id, String(item.id)]) expectExactly(await ctx.setAlarm('POST', id, token), 201, {});
    expectExactly(await ctx.call('alarm', 'GET', '/', { token }), 200, { count: 1, payload: [item] });
  }),

  alarms('alarm set — accepts item_id as a JSON number and as a numeric string', async (ctx) => {
    const token = await ctx.borrow();
    const [a, b] = [await ctx.itemAt(7), await ctx.itemAt(6)];
    expectAnswer(await ctx.setAlarm('POST', a.id, token), 201);
    expectAnswer(await ctx.setAlarm('POST', String(b.id), token), 201);
    expectEqual(await ctx.alarmIds(token), [b.id, a.id], 'the alarm list');
  }),

  alarms('alarm set — answers 404 {} for an unknown item and sets nothing', async (ctx) => {
    const token = await ctx.borrow();
    const unknown = await ctx.unknownItemId();
    for (const id of [unknown, String(unknown), 2147483647]) expectExactly(await ctx.setAlarm('POST', id, token), 404, {});
    expectEqual(await ctx.alarmIds(token), [], 'the alarm list');
  }),

  alarms('alarm set — concurrent sets of one alarm leave one alarm', async (ctx) => {
    const token = await ctx.borrow();
    const item = await ctx.itemAt(8);
    const all = await Promise.all(Array.from({ length: 20 }, () => ctx.setAlarm('POST', item.id, token)));
    expectEqual(all.map((r) => r.status), Array(20).fill(201), 'the statuses');
    expectEqual(await ctx.alarmIds(token), [item.id], 'the alarm list');
  }),

  alarms('alarm list — is ordered by item id descending and shows items without is_alarm_set', async (ctx) => {
    const token = await ctx.borrow();
    const { items: all } = await ctx.data();
    const chosen = [all[9]!, all[1]!, ...all.filter((i) => i.category === null).slice(0, 1), all[5]!];
    for (const item of chosen) await ctx.setAlarm('POST', item.id, token);
    const expected = [...new Map(chosen.map((i) => [i.id, i])).values()].sort((a, b) => b.id - a.id);
    expectExactly(await ctx.call('alarm', 'GET', '/', { token }), 200, { count: expected.length, payload: expected });
  }),

  alarms('alarm list — is {count: 0, payload: []} for a user without alarms', async (ctx) => {
    expectExactly(await ctx.call('alarm', 'GET', '/', { token: await ctx.borrow() }), 200, { count: 0, payload: [] });
  }),

  alarms("alarm list — shows only the caller's alarms", async (ctx) => {
    const [a, b] = [await ctx.borrow(), await ctx.borrow()];
    const [x, y] = [await ctx.itemAt(10), await ctx.itemAt(11)];
    await ctx.setAlarm('POST', x.id, a);
    await ctx.setAlarm('POST', y.id, b);
    expectEqual(await ctx.alarmIds(a), [x.id], "a's alarms");
    expectEqual(await ctx.alarmIds(b), [y.id], "b's alarms");
  }),

  alarms('alarm clear — answers 200 {} and the alarm is gone from the list and from is_alarm_set', async (ctx) => {
    const token = await ctx.borrow();
    const [gone, kept] = [await ctx.itemAt(2), await ctx.itemAt(1)];
    await ctx.setAlarm('POST', gone.id, token);
    await ctx.setAlarm('POST', kept.id, token);
    expectExactly(await ctx.setAlarm('DELETE', gone.id, token), 200, {});
    expectEqual(await ctx.alarmIds(token), [kept.id], 'the alarm list');
    expectAnswer(await ctx.call('item', 'GET', `/${gone.id}`, { token }), 200, { payload: { is_alarm_set: false } });
    const list = expectAnswer(await ctx.call('item', 'GET', '/', { token }), 200);
    expectEqual(ids(list.body.payload.filter((i: { is_alarm_set: boolean }) => i.is_alarm_set)), [kept.id], 'is_alarm_set in the item list', list);
  }),

  alarms('alarm clear — answers 200 {} when no alarm was set, and again after clearing', async (ctx) => {
    const token = await ctx.borrow();
    const item = await ctx.itemAt(6);
    expectExactly(await ctx.setAlarm('DELETE', item.id, token), 200, {});
    await ctx.setAlarm('POST', item.id, token);
    expectExactly(await ctx.setAlarm('DELETE', String(item.id), token), 200, {});
    expectExactly(await ctx.setAlarm('DELETE', item.id, token), 200, {});
    expectEqual(await ctx.alarmIds(token), [], 'the alarm list');
  }),

  alarms('alarm clear — accepts item_id as a JSON number and as a numeric string', async (ctx) => {
    const token = await ctx.borrow();
    const [a, b] = [await ctx.itemAt(3), await ctx.itemAt(4)];
    for (const item of [a, b]) await ctx.setAlarm('POST', item.id, token);
    expectAnswer(await ctx.setAlarm('DELETE', String(a.id), token), 200);
    expectAnswer(await ctx.setAlarm('DELETE', b.id, token), 200);
    expectEqual(await ctx.alarmIds(token), [], 'the alarm list');
  }),

  alarms('alarm clear — answers 404 {} for an unknown item', async (ctx) => {
    expectExactly(await ctx.setAlarm('DELETE', await ctx.unknownItemId(), await ctx.borrow()), 404, {});
  }),
];

const inputChecks: Check<ShopContext>[] = (['POST', 'DELETE'] as const).flatMap((method) => {
  const verb = method === 'POST' ? 'alarm set' : 'alarm clear';
  const send = (ctx: ShopContext, raw?: string) => ctx.call('alarm', method, '/', raw === undefined ? {} : { raw });
  return [
    input(`${verb} — rejects every bad item_id with 400 naming item_id (${BAD_ITEM_IDS.map(([label]) => label).join(', ')})`, async (ctx) => {
      for (const [, body] of BAD_ITEM_IDS) {
        const res = expectAnswer(await send(ctx, body), 400, { result: 'Bad Request' });
        expectThat(res.body.hint.includes('item_id'), 'the hint does not name item_id', res);
      }
    }),
    input(`${verb} — rejects malformed JSON, an empty body and a body that is not an object with 400`, async (ctx) => {
      for (const body of ['{"item_id":', '{item_id: 1}', "{'item_id':1}", 'nope', undefined, '', '[1]', '12', '"12"']) expectAnswer(await send(ctx, body), 400, { result: 'Bad Request' });
    }),
  ];
});
inputChecks.push(
  input('alarm bodies — a rejected request sets no alarm', async (ctx) => {
    const token = await ctx.borrow();
    for (const method of ['POST', 'DELETE']) for (const [, raw] of BAD_ITEM_IDS) expectAnswer(await ctx.call('alarm', method, '/', { token, raw }), 400);
    expectEqual(await ctx.alarmIds(token), [], 'the alarm list');
  }),
);

const tokenChecks: Check<ShopContext>[] = [
  ...ENDPOINTS.flatMap(({ api, method, path, body }) => {
    const request = async (ctx: ShopContext, token: string | null) => {
      const item = String((await ctx.itemAt(0)).id);
      return ctx.call(api, method, path.replace('{item}', item), { token, raw: body?.replace('{item}', item) });
    };
    return [
      tokens(`${api} ${method} ${path} — answers 401 without USER-TOKEN`, async (ctx) => {
        expectExactly(await request(ctx, null), 401, { result: 'Unauthorized', hint: 'USER-TOKEN header is missing' });
      }),
      tokens(`${api} ${method} ${path} — answers 401 to an unknown USER-TOKEN`, async (ctx) => {
        const res = expectAnswer(await request(ctx, NOT_A_TOKEN), 401, { result: 'Unauthorized' });
        expectThat(res.body.hint.includes('USER-TOKEN'), 'the hint does not name USER-TOKEN', res);
      }),
    ];
  }),
  tokens('USER-TOKEN — is checked before the body: no token and malformed JSON is 401', async (ctx) => {
    for (const method of ['POST', 'DELETE']) expectAnswer(await ctx.call('alarm', method, '/', { token: null, raw: '{bad' }), 401);
  }),
  tokens('USER-TOKEN — a request with an unknown token changes nothing', async (ctx) => {
    const { users: all } = await ctx.data();
    const item = await ctx.itemAt(9);
    const alarmed = async () => {
      const set: number[] = [];
      for (const u of all) {
        const list = expectAnswer(await ctx.call('item', 'GET', '/', { token: u.access_token }), 200);
        if (list.body.payload.find((i: { id: number }) => i.id === item.id)?.is_alarm_set) set.push(u.id);
      }
      return set;
    };
    const before = await alarmed();
    expectAnswer(await ctx.call('alarm', 'POST', '/', { token: NOT_A_TOKEN, raw: `{"item_id":${item.id}}` }), 401);
    expectAnswer(await ctx.call('item', 'GET', `/${item.id}`, { token: NOT_A_TOKEN }), 401);
    expectEqual(await alarmed(), before, `the users with an alarm on item ${item.id}`);
  }),
];

const userChecks = [
  users('user list — answers {count, payload} with every user, id descending, tokens included', async (ctx) => {
    const res = expectAnswer(await ctx.call('user', 'GET', '/'), 200);
    expectEqual(Object.keys(res.body).sort(), ['count', 'payload'], 'the keys', res);
    expectEqual(res.body.count, res.body.payload.length, 'count', res);
    for (const u of res.body.payload) expectEqual(u, { id: anyInteger, name: anyString, access_token: anyString }, `user ${u.id}`, res);
    expectEqual(ids(res.body.payload), descending(ids(res.body.payload)), 'the user ids, descending', res);
    expectThat(new Set(res.body.payload.map((u: { access_token: string }) => u.access_token)).size === res.body.count, 'two users share a token', res);
    expectThat(res.body.payload.some((u: { access_token: string }) => u.access_token === ctx.token), "the kit's token is not among the listed users", res);
  }),

  users('user list — every listed token is accepted by the item, alarm and user APIs', async (ctx) => {
    for (const u of (await ctx.data()).users) {
      for (const api of ['item', 'alarm', 'user'] as Api[]) expectAnswer(await ctx.call(api, 'GET', '/', { token: u.access_token }), 200);
    }
  }),
];

const visitChecks = [
  visits('recent visits — A, B, C, D, E, E gives E, D, C', async (ctx) => {
    const token = await ctx.borrow();
    const [a, b, c, d, e] = await Promise.all([0, 1, 2, 3, 4].map((n) => ctx.itemAt(n).then((i) => i.id)));
    await ctx.view(token, a!, b!, c!, d!, e!, e!);
    expectEqual(await ctx.visitIds(token), [e, d, c], 'the visits');
  }),

  visits('recent visits — A, B, A gives A, B, A: only consecutive repeats collapse', async (ctx) => {
    const token = await ctx.borrow();
    const [a, b] = [(await ctx.itemAt(0)).id, (await ctx.itemAt(1)).id];
    await ctx.view(token, a, b, a);
    expectEqual(await ctx.visitIds(token), [a, b, a], 'the visits');
  }),

  visits('recent visits — hold at most 3 entries', async (ctx) => {
    const token = await ctx.borrow();
    const seven = await Promise.all([0, 1, 2, 3, 4, 5, 6].map((n) => ctx.itemAt(n).then((i) => i.id)));
    await ctx.view(token, ...seven);
    expectAnswer(await ctx.call('user', 'GET', '/visit', { token }), 200, { count: 3 });
    expectEqual(await ctx.visitIds(token), seven.slice(-3).reverse(), 'the visits');
  }),

  visits('recent visits — consecutive repeats collapse into one entry, however long the run', async (ctx) => {
    const token = await ctx.borrow();
    const [a, b, c, d, e] = await Promise.all([0, 1, 2, 3, 4].map((n) => ctx.itemAt(n).then((i) => i.id)));
    await ctx.view(token, a!, a!, b!, b!, b!, c!, c!);
    expectEqual(await ctx.visitIds(token), [c, b, a], 'the visits');
    await ctx.view(token, d!, ...Array(70).fill(e));
    expectEqual(await ctx.visitIds(token), [e, d, c], 'the visits after a run of 70');
  }),

  visits("recent visits — each entry is the full item with the caller's is_alarm_set", async (ctx) => {
    const token = await ctx.borrow();
    const { items: all } = await ctx.data();
    const [first, second, third] = [all.find((i) => i.category === null) ?? all[7]!, all[8]!, all[9]!];
    await ctx.setAlarm('POST', third.id, token);
    await ctx.view(token, first.id, second.id, third.id);
    expectExactly(await ctx.call('user', 'GET', '/visit', { token }), 200, { count: 3, payload: [withAlarm(third, true), withAlarm(second, false), withAlarm(first, false)] });
    await ctx.setAlarm('DELETE', third.id, token);
    await ctx.setAlarm('POST', second.id, token);
    const after = await ctx.visits(token);
    expectEqual(after.payload.map((i: { id: number; is_alarm_set: boolean }) => [i.id, i.is_alarm_set]), [[third.id, false], [second.id, true], [first.id, false]], 'is_alarm_set now');
  }),

  visits('recent visits — a visit shows as soon as GET /{item_id} has returned', async (ctx) => {
    const token = await ctx.borrow();
    const order = await Promise.all([0, 1, 0, 2, 3].map((n) => ctx.itemAt(n).then((i) => i.id)));
    for (const id of order) {
      await ctx.view(token, id);
      expectEqual((await ctx.visitIds(token))[0], id, 'the newest visit');
    }
  }),

  visits('recent visits — a 404 detail view records no visit', async (ctx) => {
    const token = await ctx.borrow();
    const item = await ctx.itemAt(5);
    await ctx.view(token, item.id);
    expectExactly(await ctx.call('item', 'GET', `/${await ctx.unknownItemId()}`, { token }), 404, {});
    expectExactly(await ctx.call('item', 'GET', '/abc', { token }), 404, {});
    expectEqual((await ctx.visitIds(token))[0], item.id, 'the newest visit');
  }),

  visits("recent visits — are the caller's own", async (ctx) => {
    const [a, b] = [await ctx.borrow(), await ctx.borrow()];
    const [x, y, z] = [(await ctx.itemAt(6)).id, (await ctx.itemAt(7)).id, (await ctx.itemAt(8)).id];
    await ctx.view(a, x, y);
    await ctx.view(b, z);
    expectEqual((await ctx.visitIds(a)).slice(0, 2), [y, x], "a's newest visits");
    expectEqual((await ctx.visitIds(b))[0], z, "b's newest visit");
  }),

  visits('recent visits — the item list records no visit', async (ctx) => {
    const token = await ctx.borrow();
    const before = await ctx.visits(token);
    expectAnswer(await ctx.call('item', 'GET', '/', { token }), 200);
    expectExactly(await ctx.call('user', 'GET', '/visit', { token }), 200, before);
  }),
];

export const shopChecks: readonly Check<ShopContext>[] = [...itemChecks, ...alarmChecks, ...visitChecks, ...userChecks, ...tokenChecks, ...inputChecks];
