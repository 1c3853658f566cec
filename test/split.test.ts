import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect, createInbox, type NatsConnection } from 'nats';
import pg from 'pg';
import { userTokens, whileDatabaseDown, type ShopApi } from './support/shop.ts';
import { eventually, type PrivateNats, SplitShop } from './support/split.ts';

/**
 * The split topology for real: one process per domain, real Postgres databases, a real
 * nats-server of our own (so it may be stopped). Each test leaves the topology running. A fault
 * suite: the 503s of a dependency away are what it asserts.
 */
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
let nats: PrivateNats;
let shop: SplitShop<PrivateNats>;
let tokens = new Map<number, string>();

const get = (api: ShopApi, path = '/', token = T10) => shop[api].call('GET', path, { token });
const alarm = (method: 'POST' | 'DELETE', itemId: number, token = T10) => shop.alarm.call(method, '/', { token, body: { item_id: itemId } });
const alarmedIn = async (token: string) =>
  new Set(((await get('item', '/', token)).body as { payload: { id: number; is_alarm_set: boolean }[] }).payload.filter((i) => i.is_alarm_set).map((i) => i.id));
const visits = async (token: string) => ((await get('user', '/visit', token)).body as { payload: { id: number }[] }).payload.map((i) => i.id);

beforeAll(async () => {
  shop = await SplitShop.withOwnNats({ faults: true });
  nats = shop.nats;
  tokens = await userTokens(shop.user);
}, 90000);

afterAll(() => shop?.stop(), 60000);

/** The token of user `id`. */
const tokenOf = (id: number) => tokens.get(id)!;

describe('split mode', () => {
  test('each domain answers on its own port from its own process', async () => {
    expect((await get('item')).status).toBe(200);
    expect((await get('alarm')).status).toBe(200);
    expect(((await get('user')).body as { count: number }).count).toBe(50);
    expect(tokens.size).toBe(50);
  });

  test('read-your-writes — 200 alarm writes are each seen by the very next GET / on the item service', async () => {
    const token = tokenOf(11);
    let seen = 0;
    for (let i = 0; i < 100; i++) {
      const itemId = (i % 100) + 1;
      expect((await alarm('POST', itemId, token)).status).toBe(201);
      if ((await alarmedIn(token)).has(itemId)) seen++;
      expect((await alarm('DELETE', itemId, token)).status).toBe(200);
      if (!(await alarmedIn(token)).has(itemId)) seen++;
    }
    expect(seen).toBe(200);
  }, 60000);

  test('alarm process killed — items answer with the last known is_alarm_set, /visit works', async () => {
    const token = tokenOf(12);
    expect((await alarm('POST', 7, token)).status).toBe(201);
    await shop.kill('alarm');
    try {
      expect([...(await alarmedIn(token))]).toEqual([7]);
      const detail = await get('item', '/7', token);
      expect(detail.status).toBe(200);
      expect((detail.body as { payload: { is_alarm_set: boolean } }).payload.is_alarm_set).toBe(true);
      const v = await get('user', '/visit', token);
      expect(v.status).toBe(200);
      expect(await eventually(async () => (await visits(token))[0] === 7 && (await visits(token)))).toEqual([7]);
    } finally {
      await shop.startProcess('alarm');
    }
  }, 60000);

  test('item process killed — alarm list and /visit keep full item fields, alarm POST on a known item works', async () => {
    const token = tokenOf(13);
    expect((await get('item', '/50', token)).status).toBe(200);
    await shop.kill('item');
    try {
      expect((await alarm('POST', 50, token)).status).toBe(201);
      const list = (await get('alarm', '/', token)).body as { payload: Record<string, unknown>[] };
      expect(list.payload).toEqual([{ id: 50, name: '[역대최다-13종]17WINTER 레그미인', broadcaster: 'cjmall', category: '패션·잡화', price: 78900 }]);
      const v = (await get('user', '/visit', token)).body as { payload: Record<string, unknown>[] };
      expect(v.payload).toEqual([{ id: 50, name: '[역대최다-13종]17WINTER 레그미인', broadcaster: 'cjmall', category: '패션·잡화', price: 78900, is_alarm_set: true }]);
      expect((await alarm('POST', 100000, token)).status).toBe(404);
    } finally {
      await shop.startProcess('item');
    }
  }, 60000);

  test('user process killed — known tokens still work and 50 visits made meanwhile all arrive, none doubled', async () => {
    const token = tokenOf(14);
    await shop.kill('user');
    const sequence: number[] = [];
    try {
      expect((await get('alarm', '/', token)).status).toBe(200);
      // An unknown token is still refused: the copy's word is final while its owner is down.
      expect((await get('item', '/', 'not-a-token')).status).toBe(401);
      expect((await get('alarm', '/', 'not-a-token')).status).toBe(401);
      for (let i = 0; i < 50; i++) {
        const itemId = [3, 3, 9, 4, 4, 4, 8][i % 7]!;
        sequence.push(itemId);
        expect((await get('item', `/${itemId}`, token)).status).toBe(200);
      }
    } finally {
      await shop.startProcess('user');
    }
    // The rule applied to what was sent: newest first, consecutive repeats collapsed, 3 at most.
    const expected: number[] = [];
    for (const id of [...sequence].reverse()) if (expected[expected.length - 1] !== id) expected.push(id);
    expect(await visits(token)).toEqual(expected.slice(0, 3));
    const db = new pg.Client({ connectionString: shop.databaseUrl('user') });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT count(*)::int AS n FROM visit WHERE user_id = 14');
      expect(rows[0].n).toBe(50);
    } finally {
      await db.end();
    }
  }, 90000);

  test('kill -9 right after a 2xx write — the write is there after restart and reached the other domains', async () => {
    const token = tokenOf(15);
    expect((await alarm('POST', 21, token)).status).toBe(201);
    await shop.kill('alarm', 'SIGKILL');
    await shop.startProcess('alarm');
    const list = (await get('alarm', '/', token)).body as { payload: { id: number }[] };
    expect(list.payload.map((i) => i.id)).toEqual([21]);
    expect(await eventually(async () => (await alarmedIn(token)).has(21))).toBe(true);
  }, 60000);

  test('a domain database stopped — its writes answer 503 at once (none hangs), its reads from memory still answer', async () => {
    const token = tokenOf(16);
    await whileDatabaseDown(`${shop.prefix}_alarm`, async () => {
      const started = performance.now();
      const res = await alarm('POST', 5, token);
      const elapsed = performance.now() - started;
      expect(res.status).toBe(503);
      expect((res.body as { result: string }).result).toBe('Service Unavailable');
      // (the database refuses: the 503 comes at once; the bound only catches a hang)
      expect(elapsed).toBeLessThan(2000);
      // Other domains are unaffected.
      expect((await get('item', '/', token)).status).toBe(200);
    });
    expect(await eventually(async () => (await alarm('POST', 5, token)).status === 201)).toBe(true);
  }, 60000);

  test('NATS stopped — every read of every kit user keeps answering from what the processes hold (their copies filled themselves), alarm writes succeed, and every process converges when NATS returns', async () => {
    const token = tokenOf(17);
    expect((await alarm('POST', 1, token)).status).toBe(201);
    // What this user reads is held by every process: the copies are a cache of what is used.
    for (const [api, path] of [['item', '/'], ['item', '/1'], ['alarm', '/'], ['user', '/visit']] as const) expect((await get(api, path, token)).status).toBe(200);
    await eventually(async () => (await visits(token))[0] === 1, 5000, 'first visit');
    await nats.stop();
    const t0 = performance.now();
    const mark = (w: string) => process.env.TEST_TRACE && console.log(w, Math.round(performance.now() - t0));
    try {
      expect((await get('item', '/', token)).status).toBe(200);
      mark('item list');
      expect((await get('item', '/1', token)).status).toBe(200);
      expect((await get('alarm', '/', token)).status).toBe(200);
      expect((await get('user', '/', token)).status).toBe(200);
      expect((await get('user', '/visit', token)).status).toBe(200);
      // Every user of the kit, used or not: each process's copies filled themselves, so every
      // read of the dead-service table answers, with the alarms as the alarm database has them.
      const db = new pg.Client({ connectionString: shop.databaseUrl('alarm') });
      await db.connect();
      const truth = new Map<number, Set<number>>();
      try {
        for (const row of (await db.query('SELECT user_id, item_id FROM alarm')).rows as { user_id: number; item_id: number }[]) {
          if (!truth.has(row.user_id)) truth.set(row.user_id, new Set());
          truth.get(row.user_id)!.add(row.item_id);
        }
      } finally {
        await db.end();
      }
      const problems: string[] = [];
      for (const [id, t] of tokens) {
        const want = [...(truth.get(id) ?? [])].sort((a, b) => a - b);
        const list = await get('item', '/', t);
        const shown = list.status === 200 ? (list.body as { payload: { id: number; is_alarm_set: boolean }[] }).payload.filter((i) => i.is_alarm_set).map((i) => i.id).sort((a, b) => a - b) : [];
        if (list.status !== 200 || JSON.stringify(shown) !== JSON.stringify(want)) problems.push(`user ${id}: item GET / ${list.status} shows [${shown}], the alarm database [${want}]`);
        for (const [api, path] of [['item', '/1'], ['alarm', '/'], ['user', '/visit'], ['user', '/']] as const) {
          const res = await get(api, path, t);
          if (res.status !== 200) problems.push(`user ${id}: ${api} GET ${path} ${res.status} ${JSON.stringify(res.body).slice(0, 120)}`);
        }
      }
      expect(problems).toEqual([]);
      expect((await alarm('POST', 2, token)).status).toBe(201);
      expect((await alarm('DELETE', 1, token)).status).toBe(200);
      // A token no process holds may be a user made while NATS is away: 503, never a 401 guess.
      const unknown = await get('item', '/', 'a-token-nobody-has');
      expect(unknown.status).toBe(503);
      expect((unknown.body as { hint: string }).hint).toContain('NATS is unreachable');
      mark('writes done');
    } finally {
      await nats.start();
      mark('nats back');
    }
    const converged = await eventually(async () => {
      const set = await alarmedIn(token);
      return set.has(2) && !set.has(1) && set;
    }, 20000, 'item copy converged').catch(async (error) => {
      const nc = await connect({ servers: nats.url });
      const jsm = await nc.jetstreamManager();
      console.error('DIAG KV_alarms', JSON.stringify((await jsm.streams.info('KV_alarms')).state));
      for await (const c of jsm.consumers.list('KV_alarms')) console.error('DIAG consumer', JSON.stringify(c));
      await nc.close();
      const db = new pg.Client({ connectionString: shop.databaseUrl('alarm') });
      await db.connect();
      console.error('DIAG alarm outbox', JSON.stringify((await db.query('SELECT id, kind, subject, key, version FROM platform_outbox ORDER BY id LIMIT 20')).rows));
      console.error('DIAG alarm rows', JSON.stringify((await db.query('SELECT item_id FROM alarm WHERE user_id = 17 ORDER BY item_id')).rows));
      await db.end();
      const nc2 = await connect({ servers: nats.url });
      const entry = await (await nc2.jetstream().views.kv('alarms')).get('17');
      console.error('DIAG kv 17', entry?.revision, entry && new TextDecoder().decode(entry.value), new Date().toISOString());
      await nc2.close();
      console.error('DIAG item answer', JSON.stringify([...(await alarmedIn(token))]), 'user /visit status', (await get('user', '/visit', token)).status);
      throw error;
    });
    mark('converged');
    expect([...(converged as Set<number>)]).toEqual([2]);
    try {
      await eventually(async () => (await visits(token))[0] === 1, 20000, 'visit arrived');
    } catch (error) {
      const nc = await connect({ servers: nats.url });
      const jsm = await nc.jetstreamManager();
      console.error('DIAG stream', JSON.stringify((await jsm.streams.info('ITEM_EVENTS')).state));
      console.error('DIAG consumer', JSON.stringify(await jsm.consumers.info('ITEM_EVENTS', 'user-visits')));
      await nc.close();
      const db = new pg.Client({ connectionString: shop.databaseUrl('item') });
      await db.connect();
      console.error('DIAG item outbox', JSON.stringify((await db.query('SELECT id, kind, subject, key, msg_id FROM platform_outbox ORDER BY id LIMIT 20')).rows));
      await db.end();
      const udb = new pg.Client({ connectionString: shop.databaseUrl('user') });
      await udb.connect();
      console.error('DIAG user visits', JSON.stringify((await udb.query('SELECT * FROM visit WHERE user_id = 17')).rows));
      await udb.end();
      throw error;
    }
  }, 90000);

  test('NATS re-created without its store — owners re-publish, copies start over, visits flow again', async () => {
    const token = tokenOf(18);
    expect((await alarm('POST', 40, token)).status).toBe(201);
    await nats.stop();
    await nats.start({ emptyStore: true });
    // Every process reconnects; owners re-publish their snapshots into the new buckets, within
    // what a first start is allowed (60 s).
    const nc = await connect({ servers: nats.url });
    try {
      await eventually(async () => {
        const kv = await nc.jetstream().views.kv('alarms');
        return (await kv.get('18'))?.json<{ itemIds: number[] }>().itemIds.includes(40);
      }, 60000, 'alarms bucket refilled');
      await eventually(async () => (await (await nc.jetstream().views.kv('users')).get(T10)) !== null, 60000, 'users bucket refilled');
    } finally {
      await nc.close();
    }
    expect((await alarmedIn(token)).has(40)).toBe(true);
    expect((await alarm('POST', 41, token)).status).toBe(201);
    expect(await eventually(async () => (await alarmedIn(token)).has(41), 20000, 'new alarm seen')).toBe(true);
    expect(await eventually(async () => (await get('item', '/41', token)).status === 200 && (await visits(token))[0] === 41, 20000, 'visit after reset')).toBe(true);
  }, 150000);

  describe('the NATS CLI view', () => {
    let nc: NatsConnection;
    beforeAll(async () => {
      nc = await connect({ servers: nats.url });
    });
    afterAll(async () => {
      await nc?.close();
    });

    const req = async (subject: string, data: unknown = {}) => {
      const msg = await nc.request(subject, JSON.stringify(data), { timeout: 2000 });
      return { headers: msg.headers, body: msg.data.length ? JSON.parse(new TextDecoder().decode(msg.data)) : null };
    };

    test('nats micro ls — $SRV.PING finds the item, alarm and user services', async () => {
      const names = new Set<string>();
      const inbox = createInbox();
      const replies = nc.subscribe(inbox, { timeout: 1000 });
      nc.publish('$SRV.PING', '', { reply: inbox });
      const deadline = Date.now() + 1000;
      for await (const m of replies) {
        names.add(JSON.parse(new TextDecoder().decode(m.data)).name);
        if (names.size >= 3 || Date.now() > deadline) break;
      }
      expect([...names].sort()).toEqual(['alarm', 'item', 'user']);
    });

    test('nats micro info item — $SRV.INFO lists the endpoints with their subjects', async () => {
      const { body } = await req('$SRV.INFO.item');
      expect(body.name).toBe('item');
      expect(body.version).toBe('1.0.0');
      expect(body.endpoints.map((e: { subject: string }) => e.subject).sort()).toEqual(['item.get', 'item.list']);
      // Each endpoint carries its contract: the request and reply schemas.
      const get = body.endpoints.find((e: { subject: string }) => e.subject === 'item.get');
      expect(JSON.parse(get.metadata.request)).toMatchObject({ type: 'object', required: ['id'] });
      expect(JSON.parse(get.metadata.reply).required).toEqual(['id', 'name', 'broadcaster', 'category', 'price']);
    });

    test('nats micro stats alarm — $SRV.STATS counts real requests', async () => {
      const { body } = await req('$SRV.STATS.alarm');
      expect(body.name).toBe('alarm');
      expect(body.endpoints[0].subject).toBe('alarm.of-user');
      expect(typeof body.endpoints[0].num_requests).toBe('number');
    });

    test('nats req on each documented subject answers from the domain', async () => {
      expect((await req('item.get', { id: 50 })).body.name).toBe('[역대최다-13종]17WINTER 레그미인');
      const page = (await req('item.list', { limit: 100 })).body;
      expect(page.items).toHaveLength(100);
      expect(page.next).toBeNull();
      expect((await req('alarm.of-user', { userId: 17 })).body).toEqual({ userId: 17, itemIds: [2] });
      expect((await req('alarm.of-user', { userId: 'x' })).headers?.get('Nats-Service-Error-Code')).toBe('400');
      expect((await req('user.authenticate', { token: T10 })).body).toMatchObject({ id: 10, name: '박규경' });
      expect((await req('user.recent-visits', { userId: 14 })).body.itemIds).toHaveLength(3);
      const missing = await req('item.get', { id: 99999 });
      expect(missing.headers?.get('Nats-Service-Error-Code')).toBe('404');
    });

    test('nats kv ls / watch — the items, alarms and users buckets hold the snapshots, each marked complete', async () => {
      const js = nc.jetstream();
      const alarms_ = () => js.views.kv('alarms');
      const items = await js.views.kv('items');
      expect(((await items.get('50'))?.json() as { price: number }).price).toBe(78900);
      expect((await (await items.status()).values)).toBeGreaterThanOrEqual(100);
      const users = await js.views.kv('users');
      expect(((await users.get(T10))?.json() as { id: number }).id).toBe(10);
      for (const kv of [items, users, alarms_()]) expect(((await (await kv).get('_snapshot'))?.json() as { state: string }).state).toBe('complete');
      const alarms = await alarms_();
      expect((await alarms.get('17'))?.json()).toEqual({ userId: 17, itemIds: [2] });
      expect((await nc.jetstreamManager().then((m) => m.consumers.info('ITEM_EVENTS', 'user-visits'))).num_pending).toBe(0);
    });
  });
});
