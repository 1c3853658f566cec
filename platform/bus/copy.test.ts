import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Type } from '@sinclair/typebox';
import { codeOf } from '../../test/support/scratch.ts';
import { dropNamespace, eventually, onPrivateNats } from '../../test/support/split.ts';
import { DomainError } from '../errors.ts';
import { createLogger } from '../observability/log.ts';
import { copyOf, SNAPSHOT_MARKER, type BucketDescriptor } from './copy.ts';
import { MemoryBus } from './memory.ts';
import { NatsBus } from './nats/index.ts';
import { endpoint, serve } from './rpc.ts';
import type { Bus } from './types.ts';

/** One suite for the bounded copy over both buses; the NATS one also across processes. */
const log = createLogger({ test: 'copy' });
const NATS = process.env.TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

const Thing = Type.Object({ id: Type.Integer(), v: Type.String() });
const GetThing = Type.Object({ id: Type.Integer() });
const thingRequest = { subject: 'thing.get', request: GetThing, reply: Thing, description: 'a thing' };
const things = (bucket: string, withOwner = true): BucketDescriptor<number, typeof Thing, typeof GetThing> => ({
  bucket,
  value: Thing,
  key: (id: number) => String(id),
  ...(withOwner ? { owner: { request: thingRequest, payload: (id: number) => ({ id }) } } : {}),
});
const complete = { db: 'test', state: 'complete', at: new Date().toISOString() };

/** A bucket its owner has published whole (its marker says so), holding `values`. */
async function published(bus: Bus, name: string, values: Record<string, unknown> = {}) {
  const bucket = await bus.bucket(name);
  await bucket.put(SNAPSHOT_MARKER, complete);
  for (const [key, value] of Object.entries(values)) await bucket.put(key, value);
  return bucket;
}


for (const kind of ['memory', 'nats'] as const) {
  describe(`copy (${kind})`, () => {
    const ns = `c${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    let writer: Bus;
    let reader: Bus;

    beforeAll(async () => {
      if (kind === 'memory') writer = reader = new MemoryBus(log);
      else {
        writer = await NatsBus.connect({ servers: NATS, namespace: ns, log });
        reader = await NatsBus.connect({ servers: NATS, namespace: ns, log });
      }
    }, 30000);

    afterAll(async () => {
      await writer.close();
      if (reader !== writer) await reader.close();
      if (kind === 'nats') await dropNamespace(NATS, ns);
    });

    test('a key is read from the bucket once, then held: the next read answers at once', async () => {
      const bucket = await writer.bucket('held');
      await bucket.put('1', { id: 1, v: 'one' });
      const copy = await copyOf(reader, things('held'), { capacity: 10, log });
      expect(copy.holds(1)).toBe(false);
      expect(await copy.get(1)).toEqual({ id: 1, v: 'one' });
      expect(copy.holds(1)).toBe(true);
      expect(copy.get(1)).toEqual({ id: 1, v: 'one' }); // not a promise: held
      expect(copy.stats()).toMatchObject({ bucket: 'held', entries: 1, hits: 1, misses: 1, fallbacks: 0 });
      await copy.stop();
    });

    test('a key the bucket lacks: absent once the owner has published everything, asked of the owner before', async () => {
      const bucket = await writer.bucket('filling');
      let asked = 0;
      const owner = await serve(writer, { name: 'thing', version: '1.0.0', description: 'test' }, [
        endpoint(thingRequest, async ({ id }) => {
          asked++;
          if (id === 404) throw new DomainError('THING.NOT_FOUND', 'none');
          return { id, v: 'from the owner' };
        }),
      ]);
      const copy = await copyOf(reader, things('filling'), { capacity: 10, log });
      expect(await copy.get(7)).toEqual({ id: 7, v: 'from the owner' });
      expect(await copy.get(404)).toBeUndefined();
      expect(asked).toBe(2);
      await bucket.put(SNAPSHOT_MARKER, complete);
      await eventually(async () => (await copy.get(8)) === undefined && asked === 2);
      expect(copy.stats().fallbacks).toBe(2);
      await owner.stop();
      await copy.stop();
    });

    test('while the bucket is filled, a copy whose owner is down answers 503, never a guess', async () => {
      await writer.bucket('ownerless');
      const withOwner = await copyOf(reader, things('ownerless'), { capacity: 10, log });
      expect(await codeOf(withOwner.get(1))).toBe('BUS.NO_RESPONDERS');
      const without = await copyOf(reader, things('ownerless', false), { capacity: 10, log });
      expect(await codeOf(without.get(1))).toBe('BUS.UNAVAILABLE');
      await withOwner.stop();
      await without.stop();
    });

    test('follows the changes of the keys it holds (deletions too), and only those', async () => {
      const bucket = await published(writer, 'follows', { 1: { id: 1, v: 'a' } });
      const copy = await copyOf(reader, things('follows'), { capacity: 10, log });
      expect(await copy.get(1)).toEqual({ id: 1, v: 'a' });
      await bucket.put('1', { id: 1, v: 'b' });
      await bucket.put('2', { id: 2, v: 'not held' });
      await eventually(() => (copy.get(1) as { v: string } | undefined)?.v === 'b');
      expect(copy.holds(2)).toBe(false);
      await bucket.delete('1');
      await eventually(() => copy.holds(1) && copy.get(1) === undefined);
      await copy.stop();
    });

    test('read-your-writes: once a write is settled, the copy answers with it; 100 writes in a row', async () => {
      const bucket = await published(writer, 'ryw');
      const copy = await copyOf(reader, things('ryw'), { capacity: 10, log });
      for (let i = 1; i <= 100; i++) {
        const key = i % 3;
        const revision = await bucket.put(String(key), { id: key, v: `w${i}` });
        expect(await bucket.settle([String(key)], revision, 2000)).toBe(true);
        expect(await copy.get(key)).toEqual({ id: key, v: `w${i}` });
      }
      const gone = await bucket.delete('1');
      expect(await bucket.settle(['1'], gone, 2000)).toBe(true);
      expect(await copy.get(1)).toBeUndefined();
      await copy.stop();
    });

    test('a settle that hands over values: a held key takes it without a read; one the bucket could not store is held until settled again', async () => {
      const bucket = await published(writer, 'handed', { 1: { id: 1, v: 'old' } });
      const copy = await copyOf(reader, things('handed'), { capacity: 10, log });
      expect(await copy.get(1)).toEqual({ id: 1, v: 'old' });
      // Stored at revision r: the held key is replaced by the value handed over — or, when the
      // followed change dropped it first, read again at r or later.
      const r = await bucket.put('1', { id: 1, v: 'new' });
      expect(await bucket.settle(['1'], r, 2000, { '1': { value: { id: 1, v: 'new' }, revision: r } })).toBe(true);
      expect(await copy.get(1)).toEqual({ id: 1, v: 'new' });
      expect(copy.holds(1)).toBe(true);
      // …a late settle of an older revision does not put the older value back.
      expect(await bucket.settle(['1'], r - 1, 2000, { '1': { value: { id: 1, v: 'older' }, revision: r - 1 } })).toBe(true);
      expect(await copy.get(1)).toEqual({ id: 1, v: 'new' });
      // Not stored yet (revision 0: no leader for a moment): held even by a copy that lacked the
      // key, although the bucket says otherwise, until the writer settles it again once stored.
      expect(copy.holds(2)).toBe(false);
      expect(await bucket.settle(['2'], 0, 2000, { '2': { value: { id: 2, v: 'unstored' }, revision: 0 } })).toBe(true);
      expect(copy.get(2)).toEqual({ id: 2, v: 'unstored' });
      await bucket.put('1', { id: 1, v: 'a change elsewhere' });
      expect(await eventually(() => !copy.holds(1), 5000, 'the change of 1 followed')).toBe(true);
      expect(copy.get(2)).toEqual({ id: 2, v: 'unstored' });
      const stored = await bucket.put('2', { id: 2, v: 'stored' });
      expect(await bucket.settle(['2'], stored, 2000, { '2': { value: { id: 2, v: 'stored' }, revision: stored } })).toBe(true);
      expect(copy.get(2)).toEqual({ id: 2, v: 'stored' });
      await copy.stop();
    });

    test('holds at most its capacity, the least recently used going first', async () => {
      const bucket = await published(writer, 'bounded');
      await bucket.putMany([...Array(300).keys()].map((i) => ({ key: String(i), value: { id: i, v: `v${i}` } })));
      const copy = await copyOf(reader, things('bounded'), { capacity: 100, log });
      for (let i = 0; i < 300; i++) {
        expect(await copy.get(i)).toEqual({ id: i, v: `v${i}` });
        await copy.get(0); // kept in use
      }
      expect(copy.stats().entries).toBe(100);
      expect(copy.holds(0)).toBe(true);
      expect(copy.holds(1)).toBe(false);
      expect(copy.holds(299)).toBe(true);
      await copy.stop();
    });

    test('a value outside the contract is a 503 naming the bucket, not a wrong answer', async () => {
      await published(writer, 'broken', { 1: { id: 'one' } });
      const copy = await copyOf(reader, things('broken'), { capacity: 10, log });
      expect(await codeOf(copy.get(1))).toBe('BUS.UNAVAILABLE');
      await copy.stop();
    });

    test('derives what readers use once per value held', async () => {
      await published(writer, 'derived', { 1: { id: 1, v: 'abc' } });
      let derived = 0;
      const copy = await copyOf(reader, things('derived'), { capacity: 10, log, derive: (t) => (derived++, t.v.length) });
      expect(await copy.get(1)).toBe(3);
      expect(copy.get(1)).toBe(3);
      expect(derived).toBe(1);
      await copy.stop();
    });

    test('ready — with the bus, always; without it, only a preloaded copy holding the whole published bucket (new keys included)', async () => {
      let up = true;
      // The reader's bus, as seen while it is (not) connected.
      const view = new Proxy(reader, {
        get: (target, property) => (property === 'connected' ? up && target.connected : typeof Reflect.get(target, property, target) === 'function' ? Reflect.get(target, property, target).bind(target) : Reflect.get(target, property, target)),
      });
      const bucket = await writer.bucket('ready');
      await bucket.put('1', { id: 1, v: 'one' });
      await bucket.put(SNAPSHOT_MARKER, { ...complete, state: 'filling' });
      const whole = await copyOf(view, things('ready'), { capacity: 10, log, preload: true });
      const onDemand = await copyOf(view, things('ready'), { capacity: 10, log });
      expect([whole.ready(), onDemand.ready()]).toEqual([true, true]);
      up = false;
      // The owner has not published every key yet: the preloaded copy cannot vouch for a key it lacks.
      expect([whole.ready(), onDemand.ready()]).toEqual([false, false]);
      up = true;
      await bucket.put(SNAPSHOT_MARKER, complete);
      await eventually(async () => ((up = false), whole.ready()) || ((up = true), false), 10000, 'the preloaded copy whole');
      expect(onDemand.ready()).toBe(false);
      // A key added later is read into the whole copy before it counts as whole again.
      up = true;
      await bucket.put('2', { id: 2, v: 'two' });
      await eventually(() => whole.holds(2), 10000, 'the new key held');
      up = false;
      expect(whole.ready()).toBe(true);
      expect(whole.get(2)).toEqual({ id: 2, v: 'two' });
      // …and a key that changed (the copy drops it) is read in again before it is whole again.
      up = true;
      await bucket.put('1', { id: 1, v: 'uno' });
      await eventually(() => whole.holds(1) && (whole.get(1) as { v: string }).v === 'uno', 10000, 'the changed key held');
      up = false;
      expect(whole.ready()).toBe(true);
      up = true;
      await whole.stop();
      await onDemand.stop();
    });
  });
}

describe('copy (nats) when NATS goes away', () => {
  test('held keys answer, others are a 503; after NATS returns everything is read again', () =>
    onPrivateNats('', log, async (nats, writer, reader) => {
      const bucket = await published(writer, 'away', { 1: { id: 1, v: 'before' }, 2: { id: 2, v: 'two' } });
      const copy = await copyOf(reader, things('away'), { capacity: 10, log });
      expect(await copy.get(1)).toEqual({ id: 1, v: 'before' });
      await nats.stop();
      await eventually(() => !reader.connected);
      // (in the first second of a disconnect a held key waits for the connection: a process
      // moving to another node of a cluster is back sooner; NATS really away, memory answers)
      const started = Date.now();
      expect(await copy.get(1)).toEqual({ id: 1, v: 'before' });
      expect(Date.now() - started).toBeLessThan(1500);
      expect(copy.get(1)).toEqual({ id: 1, v: 'before' });
      expect(await codeOf(copy.get(2))).toBe('BUS.UNAVAILABLE');
      await nats.start();
      await eventually(() => reader.connected && writer.connected, 15000);
      // Written while the copy's follower may not be back yet: the reset after the reconnect
      // drops what the copy held, so it reads the key again.
      await bucket.put('1', { id: 1, v: 'after' });
      await eventually(async () => ((await copy.get(1)) as { v: string }).v === 'after', 15000);
      expect(await copy.get(2)).toEqual({ id: 2, v: 'two' });
      await copy.stop();
    }), 60000);
});
