import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import pg from 'pg';
import { NoAnswer, type Answer } from './support/client.ts';
import { userTokens } from './support/shop.ts';
import { eventually, SplitShop } from './support/split.ts';

/**
 * The visit path under kill -9 (issue 13, point 3): a visit is answered 200 once JetStream
 * acknowledged the event holding it (no outbox row on that path), and the user process inserts
 * what arrived together with one statement. Under load from 16 users, each visiting items in
 * turn, the item process and then the user process are killed with SIGKILL and started again.
 * Afterwards every visit answered 2xx is stored exactly once, in the order it was made; a visit
 * whose request got no answer is stored at most once; nothing else is; and `GET /visit` follows
 * the contract's rule on what was stored.
 */
let shop: SplitShop;
let tokens = new Map<number, string>();

beforeAll(async () => {
  // A fault suite: a visit answered 503 while a process is away is one the load counts as unknown.
  shop = await SplitShop.withOwnNats({ dbPrefix: 't_visit_', faults: true });
  tokens = await userTokens(shop.user);
}, 90000);

afterAll(() => shop?.stop(), 60000);

type Outcome = 'ok' | 'unknown' | 'refused';

/** The rule of GET /visit: newest first, consecutive repeats collapsed, at most 3. */
function rule(sequence: number[]): number[] {
  const out: number[] = [];
  for (const id of [...sequence].reverse()) if (out[out.length - 1] !== id) out.push(id);
  return out.slice(0, 3);
}

interface Sent {
  item: number;
  outcome: Outcome;
  /** When the request was sent and its answer came (ms since the epoch, this machine's clock). */
  from: number;
  to: number;
}

/**
 * Whether `stored` (oldest first, with the time the item process recorded each) is what `sent`
 * allows: every 'ok' visit stored once, an 'unknown' one at most once, nothing else. A stored
 * visit belongs to the request whose time span holds its time (a user's requests go one after
 * another; the item process runs on this machine's clock): matched by time, not by position —
 * with a hundred items in turn, an outage of a hundred views makes matching by order alone
 * ambiguous.
 */
function explains(sent: Sent[], stored: { item: number; at: number }[]): string | true {
  const claimed = new Set<number>();
  for (const [k, row] of stored.entries()) {
    // (the item process's milliseconds, rounded: a millisecond of slack either side)
    // (consecutive requests of a user are of different items: the slack cannot mix two up)
    const i = sent.findIndex((s) => s.from - 1 <= row.at && row.at <= s.to + 1 && s.item === row.item);
    if (i < 0) return `stored visit ${k} (item ${row.item} at ${new Date(row.at).toISOString()}) belongs to no request for that item`;
    const s = sent[i]!;
    if (s.outcome === 'refused') return `stored visit ${k} belongs to request ${i}, which was refused`;
    if (claimed.has(i)) return `request ${i} (item ${s.item}) is stored twice`;
    claimed.add(i);
  }
  const lost = sent.findIndex((s, i) => s.outcome === 'ok' && !claimed.has(i));
  return lost < 0 ? true : `visit ${lost} of item ${sent[lost]!.item} (answered 200) is missing`;
}

describe('visits under kill -9', () => {
  test('item process, then user process killed under load: every 2xx visit stored exactly once, /visit exact', async () => {
    const users = Array.from({ length: 16 }, (_, i) => i + 20);
    const sent = new Map<number, Sent[]>(users.map((u) => [u, []]));
    let running = true;
    const worker = async (user: number) => {
      const log = sent.get(user)!;
      for (let k = 0; running; k++) {
        const item = ((k * 7 + user) % 100) + 1;
        let outcome: Outcome;
        let res: Answer | undefined;
        const from = Date.now();
        try {
          res = await shop.item.call('GET', `/${item}`, { token: tokens.get(user)! });
        } catch (error) {
          if (!(error instanceof NoAnswer)) throw error;
          // No answer: the process was killed while this request was in it (or was not there).
        }
        if (res) {
          outcome = res.status === 200 ? 'ok' : res.status === 503 ? 'unknown' : 'refused';
          if (res.status !== 200 && res.status !== 503) throw new Error(`GET /${item} answered ${res.status}`);
        } else {
          outcome = 'unknown';
          await Bun.sleep(20);
        }
        log.push({ item, outcome, from, to: Date.now() });
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
        (await db.query('SELECT item_id, visited_at FROM visit WHERE user_id = $1 ORDER BY visit_id', [user])).rows.map((r) => ({ item: Number(r.item_id), at: new Date(r.visited_at).getTime() }));
      // Events the killed user process had taken but not acknowledged come again (ack wait 10 s).
      await eventually(async () => {
        for (const u of users) if (explains(sent.get(u)!, await storedOf(u)) !== true) return false;
        return true;
      }, 40000, 'every acknowledged visit stored').catch(() => {});
      for (const u of users) {
        const stored = await storedOf(u);
        expect(explains(sent.get(u)!, stored)).toBe(true);
        const res = await shop.user.call('GET', '/visit', { token: tokens.get(u)! });
        expect(res.status).toBe(200);
        const body = res.body as { count: number; payload: { id: number }[] };
        expect(body.payload.map((i) => i.id)).toEqual(rule(stored.map((v) => v.item)));
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
