import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'nats';
import { codeOf } from '../../test/support/scratch.ts';
import { dropNamespace, eventually, onPrivateNats } from '../../test/support/split.ts';
import { DomainError } from '../errors.ts';
import { createLogger } from '../observability/log.ts';
import { MemoryBus } from './memory.ts';
import { NatsBus } from './nats/index.ts';
import { LEASE_MS } from './nats/presence.ts';
import type { Bus, DeliveredEvent } from './types.ts';

/** One conformance suite for both implementations of the bus. */
const log = createLogger({ test: 'bus' });
const NATS = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';



for (const kind of ['memory', 'nats'] as const) {
  describe(`bus (${kind})`, () => {
    let bus: Bus;
    const ns = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

    beforeAll(async () => {
      bus = kind === 'memory' ? new MemoryBus(log) : await NatsBus.connect({ servers: NATS, namespace: ns, log });
    }, 30000);

    afterAll(async () => {
      await bus.close();
      if (kind === 'nats') await dropNamespace(NATS, ns);
    });

    test('is connected', () => {
      expect(bus.connected).toBe(true);
    });

    test('request/reply: a service answers, a domain error keeps its code, nobody answering is NO_RESPONDERS', async () => {
      const service = await bus.addService({
        name: 'echo',
        version: '1.0.0',
        description: 'test',
        endpoints: [
          { name: 'echo', subject: 'echo.say', handler: async (p) => ({ got: p }) },
          {
            name: 'fail',
            subject: 'echo.fail',
            handler: async () => {
              throw new DomainError('ECHO.NOT_FOUND', 'nothing here');
            },
          },
          {
            name: 'crash',
            subject: 'echo.crash',
            handler: async () => {
              throw new Error('boom');
            },
          },
          { name: 'slow', subject: 'echo.slow', handler: () => Bun.sleep(500).then(() => 'late') },
        ],
      });
      expect(await bus.request('echo.say', { a: 1 })).toEqual({ got: { a: 1 } });
      expect(await codeOf(bus.request('echo.fail', {}))).toBe('ECHO.NOT_FOUND');
      expect(await codeOf(bus.request('echo.crash', {}))).toBe('BUS.INTERNAL');
      // One failing message does not end the endpoint.
      expect(await bus.request('echo.say', 2)).toEqual({ got: 2 });
      expect(await codeOf(bus.request('echo.slow', {}, { timeoutMs: 50 }))).toBe('BUS.TIMEOUT');
      expect(await codeOf(bus.request('nobody.home', {}, { timeoutMs: 500 }))).toBe('BUS.NO_RESPONDERS');
      await service.stop();
    });

    test('buckets: put, get, delete, putMany (deletions too), keys in batches, size', async () => {
      const b = await bus.bucket('people');
      const first = await b.put('1', { id: 1, token: 'a' });
      const second = await b.put('2', { id: 2, token: 'b' });
      expect(second).toBeGreaterThan(first);
      expect(await b.get('1')).toEqual({ key: '1', value: { id: 1, token: 'a' }, revision: first });
      const deleted = await b.delete('1');
      expect(deleted).toBeGreaterThan(second);
      expect(await b.get('1')).toBeNull();
      expect(await b.get('never')).toBeNull();
      await b.putMany([...Array(250).keys()].map((i) => ({ key: `m${i}`, value: i })));
      await b.putMany([{ key: 'm0', value: null }, { key: 'm1', value: 'one' }]);
      expect(await b.get('m0')).toBeNull();
      expect((await b.get('m1'))?.value).toBe('one');
      expect((await b.get('m249'))?.value).toBe(249);
      const batches: string[][] = [];
      for await (const batch of b.keys(100)) batches.push(batch);
      expect(batches.every((batch) => batch.length <= 100)).toBe(true);
      expect(batches.flat().sort()).toEqual(['2', ...[...Array(249).keys()].map((i) => `m${i + 1}`)].sort());
      expect(await b.size()).toBeGreaterThanOrEqual(251);
    });

    test('follow: every change from now on, in revision order: the key, the revision, whether it was a deletion', async () => {
      const b = await bus.bucket('followed');
      await b.put('before', 0);
      const seen: { key: string; deleted: boolean; revision: number; storedAt?: number }[] = [];
      const following = await bus.follow('followed', { change: (e) => void seen.push(e), reset: () => void (seen.length = 0) });
      // The NATS follower is in place once it has reset (the consumer exists).
      await eventually(async () => {
        await b.put('probe', 1);
        return seen.some((e) => e.key === 'probe');
      });
      seen.length = 0;
      const revisions = [await b.put('a', 1), await b.put('b', 2), await b.delete('a'), await b.put('b', 3)];
      await eventually(() => seen.length === 4);
      // When each change was stored (the copies' lag is measured from it): within the last minute.
      for (const e of seen) expect(Math.abs(Date.now() - e.storedAt!)).toBeLessThan(60_000);
      expect(seen.map(({ storedAt: _, ...change }) => change)).toEqual([
        { key: 'a', deleted: false, revision: revisions[0]! },
        { key: 'b', deleted: false, revision: revisions[1]! },
        { key: 'a', deleted: true, revision: revisions[2]! },
        { key: 'b', deleted: false, revision: revisions[3]! },
      ]);
      await following.stop();
    }, 20000);

    test('hold and settle: settle resolves once every holder of the bucket has dropped the keys', async () => {
      const b = await bus.bucket('held');
      const dropped: [string[], number][] = [];
      const holding = await bus.hold('held', { drop: (keys, revision) => void dropped.push([keys, revision]), reset: () => {} });
      const revision = await b.put('k', 1);
      expect(await b.settle(['k'], revision, 2000)).toBe(true);
      expect(dropped).toEqual([[['k'], revision]]);
      await holding.stop();
      expect(await b.settle(['k'], revision, 2000)).toBe(true);
      expect(dropped).toHaveLength(1);
    });

    test('streams: a message id is stored once; a durable consumer gets every event at least once, redelivered after a failure', async () => {
      await bus.ensureStream({ name: 'EVENTS', subjects: ['ev.>'] });
      await bus.publish('ev.a', { n: 1 }, { msgId: 'one' });
      await bus.publish('ev.a', { n: 1 }, { msgId: 'one' });
      await bus.publish('ev.b', { n: 2 }, { msgId: 'two' });
      const got: DeliveredEvent[] = [];
      let failedOnce = false;
      const consumer = await bus.consume({
        stream: 'EVENTS',
        durable: 'tester',
        handler: async (e) => {
          if (e.msgId === 'two' && !failedOnce) {
            failedOnce = true;
            throw new Error('not yet');
          }
          got.push(e);
        },
      });
      await eventually(() => got.length >= 2);
      expect(await consumer.caughtUp(3000)).toBe(true);
      expect(got.map((e) => [e.msgId, e.payload])).toEqual([
        ['one', { n: 1 }],
        ['two', { n: 2 }],
      ]);
      expect(got[1]!.attempt).toBe(2);
      await consumer.stop();
    });

    test('streams: a second durable gets every event too, and each acknowledges on its own', async () => {
      await bus.ensureStream({ name: 'TWO', subjects: ['two.>'] });
      const seen = { a: [] as number[], b: [] as number[] };
      const a = await bus.consume({ stream: 'TWO', durable: 'a', handler: async (e) => void seen.a.push((e.payload as { n: number }).n) });
      const b = await bus.consume({ stream: 'TWO', durable: 'b', handler: async (e) => void seen.b.push((e.payload as { n: number }).n) });
      for (let n = 1; n <= 5; n++) await bus.publish('two.x', { n }, { msgId: `two-${n}` });
      await eventually(() => seen.a.length === 5 && seen.b.length === 5);
      expect(seen).toEqual({ a: [1, 2, 3, 4, 5], b: [1, 2, 3, 4, 5] });
      expect(await a.caughtUp(2000)).toBe(true);
      await a.stop();
      await b.stop();
    });

    test('a publish no stream captures fails', async () => {
      expect(await codeOf(bus.publish('nowhere.at.all', {}, { msgId: 'x' }))).toBe('BUS.NO_RESPONDERS');
    });
  });
}

describe('bus (memory) retention', () => {
  test('forgets the events every durable has acknowledged, and still drops a repeated message id', async () => {
    const bus = new MemoryBus(log);
    await bus.ensureStream({ name: 'KEEP', subjects: ['keep.>'] });
    const got: number[] = [];
    const consumer = await bus.consume({ stream: 'KEEP', durable: 'only', handler: async (e) => void got.push((e.payload as { n: number }).n) });
    for (let n = 1; n <= 100; n++) await bus.publish('keep.x', { n }, { msgId: `k${n}` });
    await bus.publish('keep.x', { n: 1 }, { msgId: 'k1' });
    await eventually(() => got.length === 100);
    expect(await consumer.caughtUp(1000)).toBe(true);
    const stream = (bus as unknown as { streams: Map<string, { messages: unknown[] }> }).streams.get('KEEP')!;
    expect(stream.messages).toHaveLength(0);
    // A durable that comes later starts after what is gone, and gets what comes next.
    const late: number[] = [];
    const second = await bus.consume({ stream: 'KEEP', durable: 'late', handler: async (e) => void late.push((e.payload as { n: number }).n) });
    await bus.publish('keep.x', { n: 101 }, { msgId: 'k101' });
    await eventually(() => late.length === 1 && got.length === 101);
    expect(late).toEqual([101]);
    await consumer.stop();
    await second.stop();
    await bus.close();
  });
});

describe('bus (nats) across processes', () => {
  const ns = `x${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  let writer: NatsBus;
  let reader: NatsBus;

  beforeAll(async () => {
    writer = await NatsBus.connect({ servers: NATS, namespace: ns, log });
    reader = await NatsBus.connect({ servers: NATS, namespace: ns, log });
  });

  afterAll(async () => {
    await writer.close();
    await reader.close();
    await dropNamespace(NATS, ns);
  });

  test('settle — reaches the holder in another process before it resolves; 200 writes in a row', async () => {
    const bucket = await writer.bucket('seen');
    const dropped: string[] = [];
    const holding = await reader.hold('seen', { drop: (keys) => void dropped.push(...keys), reset: () => {} });
    for (let i = 1; i <= 200; i++) {
      expect(await bucket.settle([`k${i}`], await bucket.put(`k${i}`, i), 2000)).toBe(true);
      expect(dropped[dropped.length - 1]).toBe(`k${i}`);
    }
    await holding.stop();
  });

  test('settle — a holder that stopped cleanly is left out at once; one gone without a word only once its lease has run out (NATS forgot its entry)', async () => {
    const bucket = await writer.bucket('stuck');
    const revision = await bucket.put('a', 1);
    // A clean stop deletes the holder's entry: nobody waits for it.
    const leaving = await NatsBus.connect({ servers: NATS, namespace: ns, log });
    await (await leaving.hold('stuck', { drop: () => {}, reset: () => {} })).stop();
    await leaving.close();
    expect(await bucket.settle(['a'], revision, 2000)).toBe(true);
    // A process that holds keys and dies without a word: its entry stays until NATS forgets it.
    const dying = await NatsBus.connect({ servers: NATS, namespace: ns, log });
    await dying.hold('stuck', { drop: () => {}, reset: () => {} });
    const renewedAt = performance.now();
    await (dying as unknown as { connection: { nc: { close(): Promise<void> } } }).connection.nc.close();
    // Not confirmed, and its lease may still run: the write is not confirmed either.
    expect(await bucket.settle(['a'], revision, 300)).toBe(false);
    // Once its entry is gone its lease has run out (by any clock running within 10 % of its own):
    // the writer goes on without it — never before.
    await eventually(() => bucket.settle(['a'], revision, 300), 15000, 'the dead holder counted out');
    expect(performance.now() - renewedAt).toBeGreaterThanOrEqual(LEASE_MS);
    await dying.close();
  }, 30000);

  test('settle — a holder that keeps renewing its lease but does not answer is never counted out: every write waits for it, and is not confirmed', async () => {
    const bucket = await writer.bucket('deaf');
    const deaf = await NatsBus.connect({ servers: NATS, namespace: ns, log });
    await deaf.hold('deaf', { drop: () => {}, reset: () => {} });
    // It stops listening for settles, and goes on renewing its lease.
    (deaf as unknown as { presence: { settleSubscription: { unsubscribe(): void } } }).presence.settleSubscription.unsubscribe();
    const revision = await bucket.put('a', 1);
    const until = performance.now() + LEASE_MS * 2;
    while (performance.now() < until) expect(await bucket.settle(['a'], revision, 500)).toBe(false);
    expect(deaf.vouches()).toBe(true);
    await deaf.close();
    expect(await bucket.settle(['a'], revision, 2000)).toBe(true); // its entry went with its clean stop
  }, 30000);

  test('a holder whose entry NATS forgot (it may have been counted out) drops everything it holds and announces itself again', async () => {
    let resets = 0;
    const forgotten = await NatsBus.connect({ servers: NATS, namespace: ns, log });
    await forgotten.hold('fenced', { drop: () => {}, reset: () => void resets++ });
    expect(forgotten.vouches()).toBe(true);
    const nc = await connect({ servers: NATS });
    const kv = await nc.jetstream().views.kv(`${ns}_copy_holders`);
    const key = `fenced.${forgotten.instance}`;
    await kv.delete(key); // as its time to live running out does
    await eventually(() => resets === 1, 10000, 'the reset');
    await eventually(async () => (await kv.get(key))?.json<{ pid?: number }>().pid === process.pid, 10000, 'announced again');
    await eventually(() => forgotten.vouches(), 10000, 'a new lease');
    await nc.close();
    await forgotten.close();
  }, 30000);

  test('follow — after NATS restarts, the follower resets once and gets the changes after it', () =>
    onPrivateNats(ns, log, async (nats, bus, other) => {
      let resets = 0;
      const seen: number[] = [];
      const following = await bus.follow('restarted', { change: (e) => void seen.push(e.revision), reset: () => void resets++ });
      await eventually(() => resets === 1);
      const bucket = await other.bucket('restarted');
      const first = await bucket.put('a', 1);
      await eventually(() => seen.includes(first));
      await nats.stop();
      await eventually(() => !bus.connected);
      await nats.start();
      await eventually(() => resets === 2, 15000);
      await eventually(async () => {
        if (!other.connected) return false;
        const revision = await bucket.put('a', 2);
        await Bun.sleep(50);
        return seen.includes(revision);
      }, 15000);
      await following.stop();
    }), 60000);
});

describe('bus (nats) while NATS is unreachable', () => {
  test('starts anyway, fails fast, and reports itself disconnected', async () => {
    const bus = await NatsBus.connect({ servers: 'nats://127.0.0.1:1', namespace: '', log, firstConnectWaitMs: 200 });
    try {
      expect(bus.connected).toBe(false);
      const started = performance.now();
      expect(await codeOf(bus.request('item.get', {}))).toBe('BUS.UNAVAILABLE');
      expect(await codeOf(bus.publish('x.y', {}, { msgId: 'm' }))).toBe('BUS.UNAVAILABLE');
      expect(await codeOf((await bus.bucket('b')).put('k', 1))).toBe('BUS.UNAVAILABLE');
      // No wait on any timeout (the shortest is 300 ms): the bound only catches one.
      expect(performance.now() - started).toBeLessThan(250);
      expect(await codeOf((await bus.bucket('b')).get('k'))).toBe('BUS.UNAVAILABLE');
      expect(await (await bus.bucket('b')).settle(['k'], 1, 50)).toBe(false);
      // Following and holding wait for NATS; neither throws.
      const following = await bus.follow('b', { change: () => {}, reset: () => {} });
      const holding = await bus.hold('b', { drop: () => {}, reset: () => {} });
      await following.stop();
      await holding.stop();
    } finally {
      await bus.close();
    }
  });
});
