import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { SCALE_PASSWORD } from './support/seed.ts';
import { startShop, userTokens, type ShopApis } from './support/shop.ts';
import { SplitShop } from './support/split.ts';
import { ADMIN, eventually, minifbForSuite, type Answer, type Backend, type Minifb } from './support/minifb.ts';

/**
 * Contention is the normal case: many users writing to one post at the same moment, on a machine
 * that is busy with other things (the suite runs on every core). Every write answers 2xx — the
 * writers of one post wait on no shared row, and a queue costs latency, never an error — and
 * every count and notification comes out exact. How long the waves take, against the same writes
 * spread over many posts, is measured by bench/hot-post.ts, not here.
 */
const USERS = Number(process.env.CONTENTION_USERS ?? 150);

describe.each(['pglite', 'split'] as Backend[])('contention on %s', (backend) => {
  let fb: Minifb;
  /** The feed's processes in turn (see Minifb.direct: hundreds in flight at once). */
  let feed: Minifb['call'];
  minifbForSuite({ backend, accounts: USERS + 1 }, (started) => {
    fb = started;
    feed = fb.direct('feed').call;
  });

  const tokens = new Map<number, string>();
  async function token(n: number): Promise<string> {
    if (!tokens.has(n)) {
      const res = await fb.call('POST', '/auth', { body: { id: `u${n}`, pw: SCALE_PASSWORD } });
      expect(res.status).toBe(200);
      tokens.set(n, res.body.accessToken);
    }
    return tokens.get(n)!;
  }
  const users = Array.from({ length: USERS }, (_, i) => i + 1);
  /** Every answer was a 2xx; otherwise the first few that were not, to read in the failure. */
  const all2xx = (answers: Answer[]) => expect(answers.filter((a) => a.status >= 300).map((a) => `${a.status} ${a.text}`).slice(0, 5)).toEqual([]);

  test(`${USERS} users react, change their reaction and comment on one post at once — every write 2xx, counts and notifications exact`, async () => {
    const owner = await token(USERS + 1);
    for (const n of users) await token(n);
    const post = (await fb.call('POST', '/post', { token: owner, body: { content: 'a viral post' } })).body;
    const first = (n: number) => (n % 5) + 1;
    const then = (n: number) => ((n + 2) % 5) + 1;
    const answers = (
      await Promise.all(
        users.map(async (n) => {
          const t = tokens.get(n)!;
          const [reacted, commented] = await Promise.all([
            feed('POST', `/post/${post.id}/reaction`, { token: t, body: { type: first(n) } }),
            feed('POST', `/post/${post.id}/comment`, { token: t, body: { content: `comment of u${n}` } }),
          ]);
          const changed = await feed('POST', `/post/${post.id}/reaction`, { token: t, body: { type: then(n) } });
          return [reacted, commented, changed];
        }),
      )
    ).flat();
    all2xx(answers);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2 * USERS); // each first reaction and comment

    const expected: Record<string, number> = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
    for (const n of users) expected[String(then(n))]!++;
    const seen = (await fb.call('GET', `/post/${post.id}`, { token: tokens.get(7)! })).body;
    expect({ reactions: seen.reactions, commentCount: seen.commentCount, myReaction: seen.myReaction }).toEqual({ reactions: expected, commentCount: USERS, myReaction: then(7) });
    // The same counts once every tally is folded into the post's row.
    await eventually(async () => {
      const page = (await fb.call('GET', '/post?limit=1', { token: owner })).body;
      return page.items[0].id === post.id && JSON.stringify(page.items[0].reactions) === JSON.stringify(expected) && page.items[0].commentCount === USERS;
    }, 10000, 'the counts on the first page');

    // One notification per comment and per first reaction of another user; a change is none.
    const unread = await eventually(async () => {
      const n = (await fb.call('GET', '/notification?limit=1', { token: owner })).body.unreadCount;
      return n >= 2 * USERS && n;
    }, 30000, `${2 * USERS} notifications`);
    expect(unread).toBe(2 * USERS);

    // And all of them take their reactions back at once: the counts go to zero.
    all2xx(await Promise.all(users.map((n) => feed('DELETE', `/post/${post.id}/reaction`, { token: tokens.get(n)! }))));
    const after = (await fb.call('GET', `/post/${post.id}`, { token: owner })).body;
    expect(after.reactions).toEqual({ '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 });
  }, 120000);

  test('one user reacting 50 times at once to one post and to one comment — every answer 2xx, one reaction each', async () => {
    const [owner, fan] = [await token(1), await token(2)];
    const post = (await fb.call('POST', '/post', { token: owner, body: { content: 'reacted to in a burst' } })).body;
    const comment = (await fb.call('POST', `/post/${post.id}/comment`, { token: owner, body: { content: 'and so is this' } })).body;
    const answers = await Promise.all([
      ...Array.from({ length: 50 }, (_, i) => feed('POST', `/post/${post.id}/reaction`, { token: fan, body: { type: (i % 5) + 1 } })),
      ...Array.from({ length: 50 }, (_, i) => feed('POST', `/comment/${comment.id}/reaction`, { token: fan, body: { type: (i % 5) + 1 } })),
    ]);
    all2xx(answers);
    expect(answers.filter((a) => a.status === 201)).toHaveLength(2);
    const seenPost = (await fb.call('GET', `/post/${post.id}`, { token: fan })).body;
    expect(Object.values(seenPost.reactions as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(1);
    expect(seenPost.reactions[String(seenPost.myReaction)]).toBe(1);
    const seenComment = (await fb.call('GET', `/post/${post.id}/comment`, { token: fan })).body.items[0];
    expect(Object.values(seenComment.reactions as Record<string, number>).reduce((a, b) => a + b, 0)).toBe(1);
    expect(seenComment.reactions[String(seenComment.myReaction)]).toBe(1);
  }, 60000);

  test('a burst of posts from every user, 64 in flight — every one 201, the total counts them all', async () => {
    const adminToken = (await fb.call('POST', '/auth', { body: ADMIN })).body.accessToken;
    const totals = async () => (await fb.call('GET', '/admin/stats', { token: adminToken })).body.totalPosts as number;
    const before = await totals();
    const answers: Answer[] = [];
    let next = 0;
    const POSTS = 4 * USERS;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        for (let k = next++; k < POSTS; k = next++) answers.push(await feed('POST', '/post', { token: await token((k % USERS) + 1), body: { content: `burst post ${k}` } }));
      }),
    );
    all2xx(answers);
    expect(answers).toHaveLength(POSTS);
    expect(await totals()).toBe(before + POSTS);
  }, 120000);
});

/**
 * Homeshopping's hot spot: one item every user sets an alarm on, at the same moment, while each
 * also sets others (their own alarm set changes several times at once). The alarm table holds one
 * row per user and item (its unique index), and nothing else that every user would write.
 */
describe.each(['pglite', 'split'] as const)('an item every user sets an alarm on, on %s', (backend) => {
  let shop: ShopApis & { stop(): Promise<void> };
  let tokens = new Map<number, string>();
  beforeAll(async () => {
    shop = backend === 'split' ? await SplitShop.withOwnNats({ faults: true }) : await startShop({ backend });
    tokens = await userTokens(shop.user);
  }, 90000);
  afterAll(() => shop?.stop(), 60000);

  const HOT = 50;
  const others = (id: number) => [1, 2, 3, 4, 5].map((k) => 1 + ((id * 7 + k * 13) % 100)).filter((i) => i !== HOT);
  const alarmed = async (token: string) =>
    new Set(((await shop.item.call('GET', '/', { token })).body as { payload: { id: number; is_alarm_set: boolean }[] }).payload.filter((i) => i.is_alarm_set).map((i) => i.id));
  const all2xx = (answers: { status: number; text: string }[]) => expect(answers.filter((a) => a.status >= 300).map((a) => `${a.status} ${a.text}`).slice(0, 5)).toEqual([]);

  test('every user sets it and four others at once, one user sets one item 50 times at once — every answer 2xx, every set exact; then every user clears it at once', async () => {
    // Users who have been using the shop (their tokens and alarm sets read before): the wave is
    // about the alarm table, not about copies being read for the first time.
    for (const [, token] of tokens) await alarmed(token);
    const answers = await Promise.all(
      [...tokens].flatMap(([id, token]) => [HOT, ...others(id)].map((item) => shop.alarm.call('POST', '/', { token, body: { item_id: item } }))),
    );
    const [repeatId, repeatToken] = [...tokens][0]!;
    const repeated = await Promise.all(Array.from({ length: 50 }, () => shop.alarm.call('POST', '/', { token: repeatToken, body: { item_id: 99 } })));
    all2xx([...answers, ...repeated]);
    for (const [id, token] of tokens) {
      const expected = new Set([HOT, ...others(id), ...(id === repeatId ? [99] : [])]);
      expect([...(await alarmed(token))].sort((a, b) => a - b)).toEqual([...expected].sort((a, b) => a - b));
      expect((await shop.alarm.call('GET', '/', { token })).body.count).toBe(expected.size);
    }

    all2xx(await Promise.all([...tokens].map(([, token]) => shop.alarm.call('DELETE', '/', { token, body: { item_id: HOT } }))));
    for (const [, token] of tokens) expect((await alarmed(token)).has(HOT)).toBe(false);
  }, 120000);
});
