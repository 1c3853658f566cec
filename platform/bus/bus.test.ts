import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { AckPolicy, connect, nanos } from 'nats';
import { DomainError } from '../errors.ts';
import { createLogger } from '../log.ts';
import { MemoryBus } from './memory.ts';
import { NatsBus } from './nats.ts';
import type { Bus, DeliveredEvent } from './types.ts';

/** One conformance suite for both implementations of the bus. */
const log = createLogger({ test: 'bus' });
const NATS = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

const eventually = async (probe: () => boolean | Promise<boolean>, ms = 5000) => {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('not reached in time');
    await Bun.sleep(10);
  }
};

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (error) {
    return error instanceof DomainError ? error.code : `not a DomainError: ${error}`;
  }
  return 'resolved';
};

for (const kind of ['memory', 'nats'] as const) {
  describe(`bus (${kind})`, () => {
    let bus: Bus;
    const ns = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

    beforeAll(async () => {
      bus = kind === 'memory' ? new MemoryBus(log) : await NatsBus.connect({ servers: NATS, namespace: ns, log });
    }, 30000);

    afterAll(async () => {
      await bus.close();
      if (kind === 'nats') {
        // Clean up this run's streams and buckets on the shared server.
        const nc = await connect({ servers: NATS });
        const jsm = await nc.jetstreamManager();
        for await (const s of jsm.streams.list()) if (s.config.name.includes(ns)) await jsm.streams.delete(s.config.name);
        await nc.close();
      }
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

    test('buckets: put, get, delete, keys; a replica warms up, follows changes and indexes', async () => {
      const b = await bus.bucket('people');
      await b.put('1', { id: 1, token: 'a' });
      await b.put('2', { id: 2, token: 'b' });
      expect((await b.get('1'))?.value).toEqual({ id: 1, token: 'a' });
      const replica = await bus.replica<{ id: number; token: string }>('people', {
        parse: (v) => v as { id: number; token: string },
        indexes: { token: (v) => v.token },
      });
      expect(await replica.waitReady(3000)).toBe(true);
      expect(replica.size).toBe(2);
      expect(replica.findBy('token', 'b')?.id).toBe(2);
      const put = await b.put('2', { id: 2, token: 'c' });
      const deleted = await b.delete('1');
      expect(deleted).toBeGreaterThan(put);
      expect(await b.settled(deleted, 2000)).toBe(true);
      // Settled means applied here already: no waiting for the copy.
      expect(replica.findBy('token', 'b')).toBeUndefined();
      expect(replica.findBy('token', 'c')?.id).toBe(2);
      expect(replica.get('1')).toBeUndefined();
      expect(await b.get('1')).toBeNull();
      expect((await b.keys()).sort()).toEqual(['2']);
      await replica.stop();
    });

    test('a replica skips a value its parser rejects', async () => {
      const b = await bus.bucket('strict');
      const replica = await bus.replica<number>('strict', {
        parse: (v) => {
          if (typeof v !== 'number') throw new Error('not a number');
          return v;
        },
      });
      await b.put('x', 'text');
      expect(await b.settled(await b.put('y', 5), 2000)).toBe(true);
      expect(replica.get('y')).toBe(5);
      expect(replica.get('x')).toBeUndefined();
      await replica.stop();
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
    const nc = await connect({ servers: NATS });
    const jsm = await nc.jetstreamManager();
    for await (const s of jsm.streams.list()) if (s.config.name.includes(ns)) await jsm.streams.delete(s.config.name);
    await nc.close();
  });

  test('settled — once a write has settled, the copy in another process holds it; 200 writes in a row', async () => {
    const bucket = await writer.bucket('seen');
    const copy = await reader.replica<number>('seen', { parse: (v) => v as number });
    for (let i = 1; i <= 200; i++) {
      expect(await bucket.settled(await bucket.put(`k${i % 7}`, i), 2000)).toBe(true);
      expect(copy.get(`k${i % 7}`)).toBe(i);
    }
    const gone = await bucket.delete('k1');
    expect(await bucket.settled(gone, 2000)).toBe(true);
    expect(copy.get('k1')).toBeUndefined();
    await copy.stop();
  });

  test('settled — waits for a replica that does not apply, no longer than its timeout; a stopped replica is not waited for', async () => {
    const bucket = await writer.bucket('stuck');
    const copy = await reader.replica<number>('stuck', { parse: (v) => v as number });
    const nc = await connect({ servers: NATS });
    const jsm = await nc.jetstreamManager();
    // A replica consumer that never acknowledges: what a hung process looks like from outside.
    await jsm.consumers.add(`KV_${ns}_stuck`, { durable_name: 'replica_stuck_hung', ack_policy: AckPolicy.Explicit, inactive_threshold: nanos(60_000) });
    const revision = await bucket.put('a', 1);
    const started = Date.now();
    expect(await bucket.settled(revision, 300)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    await jsm.consumers.delete(`KV_${ns}_stuck`, 'replica_stuck_hung');
    expect(await bucket.settled(revision, 2000)).toBe(true);
    // A replica stopped cleanly removes its consumer: later writes do not wait for it.
    await copy.stop();
    const names: string[] = [];
    for await (const c of jsm.consumers.list(`KV_${ns}_stuck`)) names.push(c.name);
    expect(names).toEqual([]);
    await nc.close();
  });

  test('a new copy of a bucket warms up from the last value of every key, deletions included', async () => {
    const bucket = await writer.bucket('resume');
    await bucket.put('a', 1);
    const copy = await reader.replica<number>('resume', { parse: (v) => v as number });
    expect(copy.get('a')).toBe(1);
    await copy.stop();
    // A new copy of the same bucket warms up from the last values.
    await bucket.put('a', 2);
    await bucket.put('b', 3);
    await bucket.put('c', 4);
    await bucket.delete('c');
    const again = await reader.replica<number>('resume', { parse: (v) => v as number });
    expect([again.get('a'), again.get('b'), again.size]).toEqual([2, 3, 2]);
    await again.stop();
  });
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
      expect(performance.now() - started).toBeLessThan(100);
      const replica = await bus.replica('b', { parse: (v) => v });
      expect(replica.ready).toBe(false);
      expect(await (await bus.bucket('b')).settled(1, 50)).toBe(false);
    } finally {
      await bus.close();
    }
  });
});
