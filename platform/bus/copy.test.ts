import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { Type } from '@sinclair/typebox';
import { codeOf } from '../../test/support/scratch.ts';
import { dropNamespace, eventually, onPrivateNats } from '../../test/support/split.ts';
import { DomainError } from '../errors.ts';
import { createLogger, type Logger } from '../observability/log.ts';
import { Copy, copyOf, SNAPSHOT_MARKER, type BucketDescriptor } from './copy.ts';
import { MemoryBus } from './memory.ts';
import { NatsBus } from './nats/index.ts';
import { endpoint, serve } from './rpc.ts';
import type { Bus, Follower } from './types.ts';

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

    test('a key not held is asked of its owner first (its database is the truth, a bucket node may be behind); the bucket only when the owner does not answer', async () => {
      const bucket = await writer.bucket('owned');
      await bucket.put('7', { id: 7, v: 'in the bucket, older' });
      let asked = 0;
      let down = false;
      const owner = await serve(writer, { name: 'thing', version: '1.0.0', description: 'test' }, [
        endpoint(thingRequest, async ({ id }) => {
          asked++;
          if (down) throw new DomainError('THING.UNAVAILABLE', 'its database is down');
          if (id === 404) throw new DomainError('THING.NOT_FOUND', 'none');
          return { id, v: 'from the owner' };
        }),
      ]);
      try {
        const copy = await copyOf(reader, things('owned'), { capacity: 10, log });
        expect(await copy.get(7)).toEqual({ id: 7, v: 'from the owner' });
        expect(copy.get(7)).toEqual({ id: 7, v: 'from the owner' }); // held
        // "No such key" from the owner is not held: asked again next time.
        expect(await copy.get(404)).toBeUndefined();
        expect(await copy.get(404)).toBeUndefined();
        expect(asked).toBe(3);
        // The owner cannot answer: the bucket's last state, absent only once the owner has
        // published everything (before, a 503: never a guess).
        down = true;
        await bucket.put('8', { id: 8, v: 'in the bucket' });
        expect(await copy.get(8)).toEqual({ id: 8, v: 'in the bucket' });
        expect(await codeOf(copy.get(9))).toBe('BUS.UNAVAILABLE');
        await bucket.put(SNAPSHOT_MARKER, complete);
        await eventually(async () => (await Promise.resolve(copy.get(9)).catch(() => 'unavailable')) === undefined);
        expect(copy.stats().fallbacks).toBe(1);
        await copy.stop();
      } finally {
        await owner.stop();
      }
    });

    test('while the bucket is filled, a copy whose owner is down answers 503, never a guess', async () => {
      await writer.bucket('ownerless');
      const withOwner = await copyOf(reader, things('ownerless'), { capacity: 10, log });
      expect(await codeOf(withOwner.get(1))).toBe('BUS.UNAVAILABLE');
      const without = await copyOf(reader, things('ownerless', false), { capacity: 10, log });
      expect(await codeOf(without.get(1))).toBe('BUS.UNAVAILABLE');
      await withOwner.stop();
      await without.stop();
    });

    test('follows the changes of the keys it holds (deletions too), and only those (a bucket larger than the copy)', async () => {
      const bucket = await published(writer, 'follows', { 1: { id: 1, v: 'a' }, 3: { id: 3, v: 'c' }, 4: { id: 4, v: 'd' } });
      const copy = await copyOf(reader, things('follows'), { capacity: 2, log });
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
      // (more than the copy holds: it is not filled whole, and reads what it is asked for)
      const bucket = await published(writer, 'handed', { 1: { id: 1, v: 'old' }, 5: { id: 5, v: 'e' }, 6: { id: 6, v: 'f' } });
      const copy = await copyOf(reader, things('handed'), { capacity: 2, log });
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
      await published(writer, 'derived', { 1: { id: 1, v: 'abc' }, 2: { id: 2, v: 'b' }, 3: { id: 3, v: 'c' } });
      let derived = 0;
      const copy = await copyOf(reader, things('derived'), { capacity: 1, log, derive: (t) => (derived++, t.v.length) });
      expect(await copy.get(1)).toBe(3);
      expect(copy.get(1)).toBe(3);
      expect(derived).toBe(1);
      await copy.stop();
    });

    test('a bucket that fits is held whole, filled in the background: ready without the bus once its owner published it all (new and changed keys read in); one that does not fit, never', async () => {
      let up = true;
      // The reader's bus, as seen while it is (not) connected.
      const view = new Proxy(reader, {
        get: (target, property) => (property === 'connected' ? up && target.connected : typeof Reflect.get(target, property, target) === 'function' ? Reflect.get(target, property, target).bind(target) : Reflect.get(target, property, target)),
      });
      const bucket = await writer.bucket('ready');
      await bucket.put('1', { id: 1, v: 'one' });
      await bucket.put('3', { id: 3, v: 'three' });
      await bucket.put(SNAPSHOT_MARKER, { ...complete, state: 'filling' });
      const catalog = await copyOf(view, things('ready'), { capacity: 10, log, preload: true });
      const fitting = await copyOf(view, things('ready'), { capacity: 10, log });
      const partial = await copyOf(view, things('ready'), { capacity: 1, log });
      const ready = () => [catalog.ready(), fitting.ready(), partial.ready()];
      expect(ready()).toEqual([true, true, true]);
      up = false;
      // The owner has not published every key yet: no copy can vouch for a key it lacks.
      expect(ready()).toEqual([false, false, false]);
      up = true;
      await bucket.put(SNAPSHOT_MARKER, complete);
      await eventually(async () => ((up = false), catalog.ready() && fitting.ready()) || ((up = true), false), 10000, 'the copies that fit whole');
      expect(partial.ready()).toBe(false);
      // A key added later is read into the whole copies.
      up = true;
      await bucket.put('2', { id: 2, v: 'two' });
      await eventually(() => catalog.holds(2) && fitting.holds(2), 10000, 'the new key held');
      up = false;
      expect(ready()).toEqual([true, true, false]);
      expect(fitting.get(2)).toEqual({ id: 2, v: 'two' });
      // …and a key that changed (the copy drops it) is read in again.
      up = true;
      await bucket.put('1', { id: 1, v: 'uno' });
      await eventually(() => [catalog, fitting].every((c) => c.holds(1) && (c.get(1) as { v: string }).v === 'uno'), 10000, 'the changed key held');
      up = false;
      expect(ready()).toEqual([true, true, false]);
      up = true;
      await catalog.stop();
      await fitting.stop();
      await partial.stop();
    });
  });
}

describe('copy: a gap in the feed of changes', () => {
  test('what was held before a gap (a reconnect) answers while its bucket cannot be read (no leader yet); a key changed since is read again', async () => {
    const bus = new MemoryBus(log);
    await published(bus, 'gap', { 1: { id: 1, v: 'before' }, 2: { id: 2, v: 'two' } });
    // The bus as a reconnect leaves it: the follower told of the gap, the bucket unreadable a while.
    let follower: Follower | undefined;
    const gapped = new Proxy(bus, {
      get(target, prop) {
        if (prop === 'follow') return (name: string, f: Follower) => ((follower = f), target.follow(name, f));
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const bucket = await bus.bucket('gap');
    let unreadable = false;
    const store = new Proxy(bucket, {
      get(target, prop) {
        if (prop === 'get') return (key: string, options?: object) => (unreadable ? Promise.reject(new DomainError('BUS.TIMEOUT', 'no leader')) : target.get(key, options));
        const value = Reflect.get(target, prop, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    // (one key: the bucket does not fit, so the copy holds only what is read)
    const copy = new Copy<number, unknown>(gapped, store, things('gap', false), { capacity: 1, log });
    await copy.start();
    expect(await copy.get(1)).toEqual({ id: 1, v: 'before' });
    unreadable = true;
    follower!.reset();
    expect(await copy.get(1)).toEqual({ id: 1, v: 'before' });
    expect(await codeOf(copy.get(2) as Promise<unknown>)).toBe('BUS.TIMEOUT');
    unreadable = false;
    await bucket.put('1', { id: 1, v: 'after' });
    await eventually(async () => ((await copy.get(1)) as { v: string }).v === 'after', 5000);
    await copy.stop();
  });
});

describe('copy (nats) when NATS goes away', () => {
  test('held keys answer, others are a 503; after NATS returns everything is read again', () =>
    onPrivateNats('', log, async (nats, writer, reader) => {
      const bucket = await published(writer, 'away', { 1: { id: 1, v: 'before' }, 2: { id: 2, v: 'two' } });
      // (one key: the bucket does not fit, so the copy holds only what is read)
      const copy = await copyOf(reader, things('away'), { capacity: 1, log });
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

  test('NATS re-created empty: a key held before is not taken for none while its owner has not published it again', () =>
    onPrivateNats('', log, async (nats, writer, reader) => {
      await published(writer, 'again', { 1: { id: 1, v: 'one' }, 2: { id: 2, v: 'two' } });
      const said: string[] = [];
      const recording: Logger = { debug: (msg) => void said.push(msg), info() {}, warn() {}, error() {}, child: () => recording };
      // (one key: the bucket does not fit, so after a reset the copy reads its hot set again)
      const copy = await copyOf(reader, things('again'), { capacity: 1, log: recording });
      expect(await copy.get(1)).toEqual({ id: 1, v: 'one' });
      await nats.stop();
      await nats.start({ emptyStore: true });
      await eventually(() => reader.connected && writer.connected, 15000);
      // The owner publishes again, a page at a time: the bucket no longer fits the copy, which
      // reads its hot set again while key 1 is not published yet.
      const bucket = await writer.bucket('again');
      // (a NATS just started answers its JetStream API a moment after it takes connections)
      await eventually(async () => (await bucket.put(SNAPSHOT_MARKER, { ...complete, state: 'filling' })) > 0, 15000, 'the marker written');
      for (const id of [2, 3, 4]) await bucket.put(String(id), { id, v: String(id) });
      await eventually(() => said.includes('copy refilled its hot set'), 15000, 'the hot set read again');
      // The bucket lacks the key because nobody has published it yet, not because it is none;
      // and its owner does not answer (no service here): a 503, never "no such token".
      expect(copy.holds(1)).toBe(false);
      expect(await codeOf(copy.get(1))).toBe('BUS.UNAVAILABLE');
      await published(writer, 'again', { 1: { id: 1, v: 'one, again' } });
      await eventually(async () => ((await copy.get(1)) as { v: string } | undefined)?.v === 'one, again', 15000);
      await copy.stop();
    }), 60000);

  test('a copy that holds its whole bucket answers every key while NATS is away, and a key written just before; a key it lacks is none where that is what it means, else a 503', () =>
    onPrivateNats('', log, async (nats, writer, reader) => {
      const bucket = await published(writer, 'whole', { 1: { id: 1, v: 'one' }, 2: { id: 2, v: 'two' } });
      // A bucket where "no key" means "none" (alarms), and one where it may mean "made meanwhile" (tokens).
      const copy = await copyOf(reader, { ...things('whole'), missingMeansNone: true }, { capacity: 10, log });
      const tokens = await copyOf(reader, things('whole'), { capacity: 10, log });
      await eventually(() => copy.stats().whole && tokens.stats().whole, 10000, 'the copies whole');
      // A new key, settled with this holder: held at once (its value handed over).
      const revision = await bucket.put('3', { id: 3, v: 'three' });
      expect(await bucket.settle(['3'], revision, 2000, { 3: { value: { id: 3, v: 'three' }, revision } })).toBe(true);
      await nats.stop();
      await eventually(() => !reader.connected);
      expect(await copy.get(1)).toEqual({ id: 1, v: 'one' });
      expect(await copy.get(2)).toEqual({ id: 2, v: 'two' });
      expect(await copy.get(3)).toEqual({ id: 3, v: 'three' });
      // Not in the bucket: absent (a user without alarms), not a 503 — also once the lease lapsed.
      await eventually(() => !reader.vouches(), 10000, 'the lease lapsed');
      expect(await copy.get(4)).toBeUndefined();
      // A token the copy lacks may have been made while NATS was away: no guess.
      expect(await tokens.get(2)).toEqual({ id: 2, v: 'two' });
      expect(await codeOf(tokens.get(4))).toBe('BUS.UNAVAILABLE');
      await nats.start();
      await eventually(() => reader.connected && writer.connected, 15000);
      await copy.stop();
      await tokens.stop();
    }), 60000);
});
