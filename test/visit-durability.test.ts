import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import pg from 'pg';
import { eventually, PrivateNats, SplitShop } from './support/split.ts';

/**
 * The visit path under kill -9 (issue 13, point 3): a visit is answered 200 once JetStream
 * acknowledged the event holding it (no outbox row on that path), and the user process inserts
 * what arrived together with one statement. Under load from 16 users, each visiting items in
 * turn, the item process and then the user process are killed with SIGKILL and started again.
 * Afterwards every visit answered 2xx is stored exactly once, in the order it was made; a visit
 * whose request got no answer is stored at most once; nothing else is; and `GET /visit` follows
 * the contract's rule on what was stored.
 */
let nats: PrivateNats;
let shop: SplitShop;
let tokens: string[] = [];

beforeAll(async () => {
  nats = new PrivateNats();
  await nats.start();
  shop = new SplitShop(nats, undefined, {}, { dbPrefix: 't_visit_' });
  await shop.start();
  const users = (await (await fetch(shop.url('user'), { headers: { 'USER-TOKEN': '4a49145e-45a8-4845-af45-1af2a59bb044' } })).json()) as { payload: { id: number; access_token: string }[] };
  tokens = users.payload.sort((a, b) => a.id - b.id).map((u) => u.access_token);
}, 90000);

afterAll(async () => {
  await shop?.stop();
  await nats?.destroy();
}, 60000);

type Outcome = 'ok' | 'unknown' | 'refused';

/** The rule of GET /visit: newest first, consecutive repeats collapsed, at most 3. */
function rule(sequence: number[]): number[] {
  const out: number[] = [];
  for (const id of [...sequence].reverse()) if (out[out.length - 1] !== id) out.push(id);
  return out.slice(0, 3);
}

/**
 * Whether `stored` (oldest first) is what `sent` allows: every 'ok' visit in its place, an
 * 'unknown' one there or not, nothing else. Consecutive visits of one user are of different items.
 */
function explains(sent: { item: number; outcome: Outcome }[], stored: number[]): string | true {
  let j = 0;
  for (const [i, s] of sent.entries()) {
    if (stored[j] === s.item && s.outcome !== 'refused') j++;
    else if (s.outcome === 'ok') return `visit ${i} of item ${s.item} (answered 200) is missing: stored ${JSON.stringify(stored.slice(Math.max(0, j - 2), j + 3))} at ${j}`;
  }
  return j === stored.length ? true : `${stored.length - j} visits stored that were never answered or were doubled (from ${j})`;
}

describe('visits under kill -9', () => {
  test('item process, then user process killed under load: every 2xx visit stored exactly once, /visit exact', async () => {
    const users = Array.from({ length: 16 }, (_, i) => i + 20);
    const sent = new Map<number, { item: number; outcome: Outcome }[]>(users.map((u) => [u, []]));
    let running = true;
    const worker = async (user: number) => {
      const log = sent.get(user)!;
      for (let k = 0; running; k++) {
        const item = ((k * 7 + user) % 100) + 1;
        let outcome: Outcome;
        try {
          const res = await fetch(shop.url('item', `/${item}`), { headers: { 'USER-TOKEN': tokens[user - 1]! } });
          await res.arrayBuffer();
          outcome = res.status === 200 ? 'ok' : res.status === 503 ? 'unknown' : 'refused';
          if (res.status !== 200 && res.status !== 503) throw new Error(`GET /${item} answered ${res.status}`);
        } catch (error) {
          if (error instanceof Error && error.message.startsWith('GET /')) throw error;
          // No answer: the process was killed while this request was in it (or was not there).
          outcome = 'unknown';
          await Bun.sleep(20);
        }
        log.push({ item, outcome });
      }
    };
    const load = Promise.all(users.map(worker));
    const okCount = () => [...sent.values()].reduce((n, l) => n + l.filter((s) => s.outcome === 'ok').length, 0);
    try {
      await eventually(() => okCount() > 500, 20000, '500 visits under load');
      await shop.kill('item', 'SIGKILL');
      await shop.startProcess('item');
      const afterItem = okCount();
      await eventually(() => okCount() > afterItem + 500, 20000, '500 more visits after the item restart');
      await shop.kill('user', 'SIGKILL');
      const duringUserDown = okCount();
      await eventually(() => okCount() > duringUserDown + 300, 20000, 'visits while the user process is down');
      await shop.startProcess('user');
      const afterUser = okCount();
      await eventually(() => okCount() > afterUser + 300, 20000, 'visits after the user restart');
    } finally {
      running = false;
      await load;
    }
    expect(okCount()).toBeGreaterThan(1600);

    const db = new pg.Client({ connectionString: shop.databaseUrl('user') });
    await db.connect();
    try {
      const storedOf = async (user: number) =>
        (await db.query('SELECT item_id FROM visit WHERE user_id = $1 ORDER BY visit_id', [user])).rows.map((r) => Number(r.item_id));
      // Events the killed user process had taken but not acknowledged come again (ack wait 10 s).
      await eventually(async () => {
        for (const u of users) if (explains(sent.get(u)!, await storedOf(u)) !== true) return false;
        return true;
      }, 40000, 'every acknowledged visit stored').catch(() => {});
      for (const u of users) {
        const stored = await storedOf(u);
        expect(explains(sent.get(u)!, stored)).toBe(true);
        const res = await fetch(shop.url('user', '/visit'), { headers: { 'USER-TOKEN': tokens[u - 1]! } });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { count: number; payload: { id: number }[] };
        expect(body.payload.map((i) => i.id)).toEqual(rule(stored));
        expect(body.count).toBe(body.payload.length);
      }
      // No visit twice, whatever was redelivered.
      const { rows } = await db.query('SELECT count(*)::int AS n, count(DISTINCT visit_id)::int AS d FROM visit');
      expect(rows[0].n).toBe(rows[0].d);
    } finally {
      await db.end();
    }
  }, 180000);
});
