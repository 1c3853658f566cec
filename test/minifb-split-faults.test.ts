import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'nats';
import { ADMIN, eventually, startMinifb, type Minifb } from './support/minifb.ts';

/**
 * minifb split into its processes (account, feed ×2, notification, stats) behind the local
 * proxy, real Postgres, a private nats-server: what happens when a part dies.
 */
let fb: Minifb;
let n = 0;

beforeAll(async () => {
  fb = await startMinifb({ backend: 'split', faults: true });
}, 90000);

afterAll(async () => {
  await fb?.stop();
}, 60000);

/** A fresh owner with a post, and a fresh other user. */
async function scene() {
  const owner = `owner${++n}`;
  const other = `other${n}`;
  const ownerToken = await fb.user(owner, { name: `Owner ${n}` });
  const otherToken = await fb.user(other, { name: `Other ${n}` });
  const post = (await fb.call('POST', '/post', { token: ownerToken, body: { content: 'a post' } })).body;
  return { owner, other, ownerToken, otherToken, post };
}
/**
 * Resolves once the durable `notifications` consumer has nothing left to hand out or to hear
 * back about: every event published so far has been handled (and a doubled one would show).
 */
async function notificationsSettled() {
  const nc = await connect({ servers: fb.nats!.url });
  try {
    const jsm = await nc.jetstreamManager();
    await eventually(async () => {
      const info = await jsm.consumers.info('FEED_EVENTS', 'notifications');
      return info.num_pending === 0 && info.num_ack_pending === 0;
    }, 20000, 'the notifications consumer caught up');
  } finally {
    await nc.close();
  }
}
const notifications = async (token: string) => (await fb.call('GET', '/notification?limit=100', { token })).body.items as { type: number; actor: { id: string } }[];

describe('minifb split', () => {
  test('the topology — every module answers through the one base URL, the feed from two processes in turn', async () => {
    const { otherToken, post } = await scene();
    const upstreams = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const res = await fb.call('GET', `/post/${post.id}`, { token: otherToken });
      expect(res.status).toBe(200);
      upstreams.add(res.headers.get('x-upstream')!);
    }
    const feedPorts = ['feed', 'feed-2'].map((name) => `http://127.0.0.1:${fb.processes.get(name)!.plan.port}`);
    expect([...upstreams].sort()).toEqual(feedPorts.sort());
    const routes: [string, string][] = [
      ['/me', 'account'],
      ['/notification', 'notification'],
      ['/timeline', 'feed'],
    ];
    for (const [path, module] of routes) {
      const res = await fb.call('GET', path, { token: otherToken });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-upstream')).toBe(`http://127.0.0.1:${fb.processes.get(module)!.plan.port}`);
    }
    const admin = (await fb.login(ADMIN.id, ADMIN.pw)).accessToken;
    expect((await fb.call('GET', '/admin/stats', { token: admin })).headers.get('x-upstream')).toBe(`http://127.0.0.1:${fb.processes.get('stats')!.plan.port}`);
  }, 30000);

  test('several processes of one domain — the feed answers NATS requests as one service of two instances; two notification processes share the durable consumer, each event handled once', async () => {
    const nc = await connect({ servers: fb.nats!.url });
    try {
      // $SRV.PING.feed: what `nats micro ls` counts — two instances of one service.
      const pongs: string[] = [];
      for await (const m of await nc.requestMany('$SRV.PING.feed', '', { maxWait: 1000 })) pongs.push(JSON.parse(new TextDecoder().decode(m.data)).id);
      expect(new Set(pongs).size).toBe(2);
      expect(await fb.bus.request('feed.totals', { timeZone: 'UTC' })).toMatchObject({ totalPosts: expect.any(Number) });
    } finally {
      await nc.close();
    }
    const second = await fb.addProcess('notification');
    try {
      const s = await scene();
      for (let i = 0; i < 20; i++) await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: `c${i}` } });
      await eventually(async () => (await notifications(s.ownerToken)).length >= 20, 15000, 'twenty notifications');
      await notificationsSettled();
      expect(await notifications(s.ownerToken)).toHaveLength(20);
    } finally {
      await second.kill('SIGTERM');
    }
  }, 60000);

  test('notification process killed — posting, commenting and reacting go on; every notification of meanwhile arrives once it is back, once', async () => {
    const s = await scene();
    await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: 'before' } });
    await eventually(async () => (await notifications(s.ownerToken)).length === 1, 10000, 'the first notification');
    const notification = fb.processes.get('notification')!;
    await notification.kill();
    try {
      const reactors = [s.otherToken];
      for (let i = 0; i < 3; i++) reactors.push(await fb.user(`reactor${n}x${i}`));
      for (let i = 0; i < 5; i++) {
        expect((await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: `meanwhile ${i}` } })).status).toBe(201);
      }
      for (const token of reactors) expect((await fb.call('POST', `/post/${s.post.id}/reaction`, { token, body: { type: 2 } })).status).toBe(201);
      expect((await fb.call('POST', '/post', { token: s.ownerToken, body: { content: 'still posting' } })).status).toBe(201);
      expect((await fb.call('GET', '/notification', { token: s.ownerToken })).status).toBe(502);
    } finally {
      await notification.start();
    }
    const all = (await eventually(async () => {
      const items = await notifications(s.ownerToken);
      return items.length >= 10 && items;
    }, 20000, 'the notifications of meanwhile')) as Awaited<ReturnType<typeof notifications>>;
    await notificationsSettled();
    const settled = await notifications(s.ownerToken);
    expect(settled).toHaveLength(10);
    expect(all.length).toBe(10);
    expect(settled.filter((i) => i.type === 1)).toHaveLength(6);
    expect(settled.filter((i) => i.type === 2)).toHaveLength(4);
  }, 90000);

  test('account process killed — access tokens keep working everywhere and names come from the snapshot', async () => {
    const s = await scene();
    const admin = (await fb.login(ADMIN.id, ADMIN.pw)).accessToken;
    const account = fb.processes.get('account')!;
    await account.kill();
    try {
      const p = await fb.call('POST', '/post', { token: s.ownerToken, body: { content: 'written while accounts sleep' } });
      expect(p.status).toBe(201);
      expect(p.body.owner).toEqual({ id: s.owner, name: `Owner ${n}`, nickname: null });
      expect((await fb.call('POST', `/post/${p.body.id}/comment`, { token: s.otherToken, body: { content: 'hi' } })).body.user.name).toBe(`Other ${n}`);
      expect((await fb.call('GET', `/timeline/${s.owner}`, { token: s.otherToken })).status).toBe(200);
      expect((await fb.call('GET', '/notification', { token: s.ownerToken })).status).toBe(200);
      expect((await fb.call('GET', '/admin/stats', { token: admin })).status).toBe(200);
      // What only the account process does cannot be done; nothing hangs.
      const login = await fb.call('POST', '/auth', { body: { id: s.owner, pw: 'correct horse battery' } });
      expect(login.status).toBe(502);
      expect(login.body.result).toBe('Bad Gateway');
      // A token the snapshot cannot vouch for is still refused.
      expect((await fb.call('GET', '/post', { token: `${s.ownerToken.slice(0, -4)}AAAA` })).status).toBe(401);
    } finally {
      await account.start();
    }
    expect((await fb.call('GET', '/me', { token: s.ownerToken })).status).toBe(200);
  }, 60000);

  test('one of the two feed processes killed mid-load — nothing the proxy sent to the survivor fails, and no acknowledged write is lost', async () => {
    const { ownerToken } = await scene();
    const survivor = `http://127.0.0.1:${fb.processes.get('feed')!.plan.port}`;
    const victim = fb.processes.get('feed-2')!;
    const results: { kind: string; status: number; upstream: string | null; id?: number }[] = [];
    let running = true;
    const worker = async (w: number) => {
      for (let i = 0; running; i++) {
        const write = await fb.call('POST', '/post', { token: ownerToken, body: { content: `load ${w}.${i}` } });
        results.push({ kind: 'POST /post', status: write.status, upstream: write.headers.get('x-upstream'), id: write.body?.id });
        const read = await fb.call('GET', '/post?limit=5', { token: ownerToken });
        results.push({ kind: 'GET /post', status: read.status, upstream: read.headers.get('x-upstream') });
      }
    };
    const workers = Array.from({ length: 6 }, (_, w) => worker(w));
    // Kill one process while the load is on, then keep it on until the survivor has answered a
    // good number more.
    await eventually(() => results.length >= 30, 20000, 'load under way');
    await victim.kill('SIGKILL');
    const atKill = results.length;
    await eventually(() => results.length >= atKill + 60, 30000, 'load after the kill');
    running = false;
    await Promise.all(workers);
    try {
      expect(results.length).toBeGreaterThan(50);
      const fromSurvivor = results.filter((r) => r.upstream === survivor);
      expect(fromSurvivor.length).toBeGreaterThan(20);
      expect(fromSurvivor.filter((r) => r.status >= 300)).toEqual([]);
      // Only requests in flight at the victim when it died may have failed.
      const failed = results.filter((r) => r.status >= 300);
      for (const f of failed) expect(f.upstream).not.toBe(survivor);
      expect(failed.length).toBeLessThanOrEqual(6);
      // Every post acknowledged with 201 is there, wherever it was written.
      const acknowledged = results.filter((r) => r.kind === 'POST /post' && r.status === 201).map((r) => r.id!);
      expect(acknowledged.length).toBeGreaterThan(10);
      for (const id of acknowledged) expect((await fb.call('GET', `/post/${id}`, { token: ownerToken })).status).toBe(200);
    } finally {
      await victim.start();
    }
  }, 90000);

  test('NATS stopped — reads of what the processes hold keep working (every account signed up before), a caller none holds is 503 (never 401); writes to a domain\'s own database succeed and reach the others when NATS returns', async () => {
    const s = await scene();
    const admin = (await fb.login(ADMIN.id, ADMIN.pw)).accessToken;
    const newcomer = `newcomer${n}`;
    await fb.call('POST', '/signup', { body: { id: newcomer, pw: 'newcomer-password', name: 'Newcomer' } });
    // What these users read is held by each process (twice: both feed processes answer in turn).
    for (let i = 0; i < 2; i++) {
      for (const token of [s.ownerToken, s.otherToken]) {
        for (const path of [`/post/${s.post.id}`, '/post', `/post/${s.post.id}/comment`, '/notification']) expect((await fb.call('GET', path, { token })).status).toBe(200);
      }
    }
    await fb.nats!.stop();
    let commentId: number;
    try {
      // Signed up before NATS went, never used since: every process holds the account anyway
      // (copies fill themselves, and the sign-up's settle handed it over).
      const newcomerToken = (await fb.login(newcomer, 'newcomer-password')).accessToken;
      expect((await fb.call('GET', '/post', { token: newcomerToken })).status).toBe(200);
      // Signed up while NATS is away: saved by the account process (and said to be local); no
      // other process can know of it, and none can look it up: 503, never 401.
      const latecomer = `latecomer${n}`;
      const signup = await fb.call('POST', '/signup', { body: { id: latecomer, pw: 'latecomer-password', name: 'Latecomer' } });
      expect({ status: signup.status, consistency: signup.headers.get('x-consistency') }).toEqual({ status: 201, consistency: 'local' });
      const stranger = (await fb.login(latecomer, 'latecomer-password')).accessToken;
      const refused = await fb.call('GET', '/post', { token: stranger });
      expect(refused.status).toBe(503);
      expect((await fb.call('GET', `/post/${s.post.id}`, { token: s.otherToken })).status).toBe(200);
      expect((await fb.call('GET', '/post', { token: s.otherToken })).status).toBe(200);
      expect((await fb.call('GET', '/notification', { token: s.ownerToken })).status).toBe(200);
      expect((await fb.call('GET', '/me', { token: s.ownerToken })).status).toBe(200);
      const comment = await fb.call('POST', `/post/${s.post.id}/comment`, { token: s.otherToken, body: { content: 'while NATS is down' } });
      expect(comment.status).toBe(201);
      commentId = comment.body.id;
      expect((await fb.call('POST', `/post/${s.post.id}/reaction`, { token: s.otherToken, body: { type: 1 } })).status).toBe(201);
      expect((await fb.call('PUT', '/me/nickname', { token: s.otherToken, body: { nickname: 'offline' } })).status).toBe(200);
      expect((await fb.call('POST', '/post', { token: s.ownerToken, body: { content: 'written offline' } })).status).toBe(201);
    } finally {
      await fb.nats!.start();
    }
    // The feed's events reach the notifications; the account's change reaches the feed's copies.
    const items = (await eventually(async () => {
      const got = await notifications(s.ownerToken);
      return got.length === 2 && got;
    }, 20000, 'notifications of what happened while NATS was down')) as Awaited<ReturnType<typeof notifications>>;
    expect(items.map((i) => i.type).sort()).toEqual([1, 2]);
    await eventually(async () => {
      const comments = (await fb.call('GET', `/post/${s.post.id}/comment`, { token: s.ownerToken })).body.items as { id: number; user: { nickname: string | null } }[];
      return comments.find((c) => c.id === commentId)?.user.nickname === 'offline';
    }, 20000, 'the nickname reached the feed');
    expect((await fb.call('GET', '/admin/stats', { token: admin })).status).toBe(200);
  }, 90000);
});
