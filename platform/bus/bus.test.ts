import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { connect } from 'nats';
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
      await b.put('2', { id: 2, token: 'c' });
      await b.delete('1');
      expect(await replica.sync(2000)).toBe(true);
      expect(await replica.sync(2000, '2')).toBe(true);
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
      await b.put('y', 5);
      await replica.sync(2000);
      await eventually(() => replica.get('y') === 5);
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

    test('a publish no stream captures fails', async () => {
      expect(await codeOf(bus.publish('nowhere.at.all', {}, { msgId: 'x' }))).toBe('BUS.NO_RESPONDERS');
    });
  });
}

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
      expect(await replica.sync(50)).toBe(false);
    } finally {
      await bus.close();
    }
  });
});
