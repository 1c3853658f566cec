import { DeliverPolicy, headers as natsHeaders, type KV, StorageType } from 'nats';
import { DomainError } from '../../errors.ts';
import { detached } from '../../observability/request-context.ts';
import type { BucketEntry, Follower, Handed, SnapshotBucket, Stoppable } from '../types.ts';
import type { Connection } from './connection.ts';
import { decode, EMPTY, encode, sleep, unavailable, withTimeout } from './wire.ts';

/** How long a bucket write waits for the leader's acknowledgement (a write's budget is 1 s). */
const WRITE_TIMEOUT_MS = 300;
/** A direct get's try (sub-millisecond when answered) and all of a read (a copy waits 500 ms). */
const DIRECT_TRY_MS = 100;
const READ_BUDGET_MS = 480;
/** The key `putMany` writes before and after a bulk write (copies ignore keys starting with `_`). */
const BARRIER_KEY = '_barrier';

/** Who holds keys of a bucket (presence.ts): a bucket's `settle` reaches them. */
export interface Holders {
  /** Resolves once the holders are known. */
  watch(): Promise<void>;
  settle(bucket: string, keys: string[], revision: number, timeoutMs: number, values?: Record<string, Handed>): Promise<boolean>;
}

/**
 * Opens a bucket (JetStream KV), making it when nobody has yet: the one place buckets are made.
 * `made` is called once it exists, before it is given this process's replicas.
 */
export async function openBucket(c: Connection, name: string, options: { storage: StorageType; ttl?: number }, made = () => {}): Promise<KV> {
  const kv = await c.js!.views.kv(c.named(name), { history: 1, replicas: c.replicas, ...options });
  made();
  await applySettings(c, `KV_${c.named(name)}`, options.ttl);
  return kv;
}

/**
 * A bucket made before NATS_REPLICAS changed (or by a process with another setting, or an older
 * release with another time to live) gets this process's: `views.kv` leaves an existing bucket
 * as it is. Done once a connection.
 */
async function applySettings(c: Connection, stream: string, ttlMs?: number) {
  const info = await c.jsm!.streams.info(stream);
  const maxAge = ttlMs === undefined ? info.config.max_age : Math.round(ttlMs) * 1_000_000;
  if ((info.config.num_replicas || 1) === c.replicas && info.config.allow_direct && info.config.max_age === maxAge) return;
  c.log.info('changing the settings of a bucket', { stream, replicas: [info.config.num_replicas, c.replicas], maxAgeMs: [info.config.max_age / 1e6, maxAge / 1e6] });
  // Direct gets answered by any replica: a read needs no leader (see the copies' floor).
  await c.jsm!.streams.update(stream, { num_replicas: c.replicas, allow_direct: true, max_age: maxAge });
}

type ReadEntry = { value: unknown; revision: number; deleted: boolean } | 'missing';

/** A direct get's answer: the message itself, its sequence and operation in the headers. */
function directEntry(key: string, h: ReturnType<typeof natsHeaders> | undefined, data: Uint8Array): ReadEntry {
  if (h?.hasError) {
    if (h.code === 404) return 'missing';
    throw unavailable(`get ${key}: ${h.code} ${h.description}`);
  }
  const op = h?.get('KV-Operation');
  const deleted = op === 'DEL' || op === 'PURGE';
  return { value: deleted ? null : decode(data), revision: Number(h?.get('Nats-Sequence')), deleted };
}

/** The leader's `STREAM.MSG.GET` answer: JSON with the message's headers and data in base64. */
function storedEntry(key: string, data: Uint8Array): ReadEntry {
  const answer = decode(data) as { message?: { seq: number; hdrs?: string; data?: string }; error?: { code: number; description: string } };
  if (answer.error) {
    if (answer.error.code === 404) return 'missing';
    throw unavailable(`get ${key}: ${answer.error.code} ${answer.error.description}`);
  }
  const m = answer.message!;
  const headers = m.hdrs ? Buffer.from(m.hdrs, 'base64').toString('utf8') : '';
  const deleted = /^KV-Operation:\s*(DEL|PURGE)\s*$/im.test(headers);
  return { value: deleted || !m.data ? null : decode(Buffer.from(m.data, 'base64')), revision: m.seq, deleted };
}

/**
 * The last entry of `key` in bucket `name` as the bucket's leader has it (not a replica, which may
 * be behind): null when there is none or it was deleted. Throws when no leader answers.
 */
export async function leaderEntry(c: Connection, name: string, key: string, timeoutMs = 500): Promise<{ value: unknown; revision: number } | null> {
  if (!c.connected || !c.nc) throw unavailable(`bucket ${name}`);
  const msg = await c.nc.request(`$JS.API.STREAM.MSG.GET.KV_${c.named(name)}`, encode({ last_by_subj: `$KV.${c.named(name)}.${key}` }), { timeout: timeoutMs });
  const entry = storedEntry(key, msg.data);
  return entry === 'missing' || entry.deleted ? null : { value: entry.value, revision: entry.revision };
}

/**
 * The last entry of `key` in bucket `name` as any replica has it (a direct get): it needs neither
 * the stream's leader nor JetStream's meta leader, so it answers while a cluster re-elects —
 * but a replica may be behind. Null when there is none or it was deleted; throws when none answers.
 */
export async function replicaEntry(c: Connection, name: string, key: string, timeoutMs = 500): Promise<{ value: unknown; revision: number } | null> {
  if (!c.connected || !c.nc) throw unavailable(`bucket ${name}`);
  const msg = await c.nc.request(`$JS.API.DIRECT.GET.KV_${c.named(name)}`, encode({ last_by_subj: `$KV.${c.named(name)}.${key}` }), { timeout: timeoutMs });
  const entry = directEntry(key, msg.headers, msg.data);
  return entry === 'missing' || entry.deleted ? null : { value: entry.value, revision: entry.revision };
}

/** Snapshot buckets over JetStream KV: reads, writes, batches, and following a bucket's changes. */
export class Buckets {
  /** KV views by bucket: opening one asks for the stream's info, so it is done once a connection. */
  private readonly kvs = new Map<string, Promise<KV>>();
  /** Buckets this process has opened (so they exist, unless NATS lost them since). */
  private readonly opened = new Set<string>();

  constructor(
    private readonly c: Connection,
    private readonly holders: Holders,
  ) {}

  /** After a reconnect: NATS may have lost its store, so buckets are opened (made) again. */
  forget() {
    this.kvs.clear();
  }

  private kv(name: string): Promise<KV> {
    if (!this.c.js) return Promise.reject(unavailable(`bucket ${name}`));
    let view = this.kvs.get(name);
    if (!view) {
      view = openBucket(this.c, name, { storage: StorageType.File }, () => this.opened.add(name));
      view.catch(() => this.kvs.delete(name));
      this.kvs.set(name, view);
    }
    return view;
  }

  async bucket(name: string): Promise<SnapshotBucket> {
    const { c } = this;
    void this.holders.watch();
    // Made (or given this process's replicas) now, in the background: reads and writes do not
    // wait for it (opening a view needs the bucket's leader).
    if (c.connected) this.kv(name).catch(() => {});
    const guard = async () => {
      if (!c.connected) throw unavailable(`bucket ${name}`);
      return this.kv(name);
    };
    const subjectOf = (key: string) => `$KV.${c.named(name)}.${key}`;
    const del = () => {
      const h = natsHeaders();
      h.set('KV-Operation', 'DEL');
      return h;
    };
    // Stored after everything sent before it: under a bulk write it may wait a while.
    const barrier = async () => (await c.js!.publish(subjectOf(BARRIER_KEY), EMPTY, { timeout: 10_000 })).seq;
    const stream = `KV_${c.named(name)}`;
    // A write is a publish the bucket's leader acknowledges (what kv.put and kv.delete do, without
    // opening the view first: that asks the leader for the stream's info, and while a cluster
    // elects one nobody answers). Bounded well inside a write's budget, so that a write the
    // bucket cannot take now still leaves time to hand its value to the holders (settle).
    const write = async (key: string, data: Uint8Array, headers?: ReturnType<typeof natsHeaders>) => {
      if (!c.connected || !c.js) throw unavailable(`bucket ${name}`);
      const publish = () => c.js!.publish(subjectOf(key), data, { headers, timeout: WRITE_TIMEOUT_MS });
      try {
        return (await publish()).seq;
      } catch (error) {
        const code = (error as { code?: string }).code;
        // No stream answers: in a cluster, the bucket has no leader right now (fail fast: the
        // relay hands the value to the holders) — or it is gone (deleted, NATS lost its store):
        // open (make) it again in the background, for the next try.
        if (code === '503' && this.opened.has(name)) {
          this.kvs.delete(name);
          this.kv(name).catch(() => {});
        }
        if (code !== '503' || this.opened.has(name)) throw unavailable(`write ${name}.${key}: ${(error as Error).message}`);
      }
      // Never opened by this process: nobody may have made it yet. Make it and try once more.
      try {
        await withTimeout(this.kv(name), WRITE_TIMEOUT_MS);
        return (await publish()).seq;
      } catch (error) {
        throw unavailable(`write ${name}.${key}: ${(error as Error).message}`);
      }
    };
    const request = async (subject: string, body: unknown, timeout: number) => {
      try {
        return await c.nc!.request(subject, encode(body), { timeout });
      } catch (error) {
        // No stream answers: nobody has made the bucket yet, so it holds nothing — unless this
        // process has seen it: then no replica answers right now (try again), or NATS lost it.
        // Either way it is opened (made) again, once at a time.
        if ((error as { code?: string }).code === '503') {
          this.kv(name).catch(() => {});
          if (!this.opened.has(name)) return null;
        }
        throw error;
      }
    };
    return {
      name,
      put: (key, value) => write(key, encode(value)),
      // A direct get of the key's last message, read as it comes: the hot path of every copy's
      // miss (nats.js's kv.get builds several objects per call on top of this). Any replica
      // answers (allow_direct), so a read needs no leader; one that is behind a write the caller
      // was told of is asked again, then the leader is.
      get: async (key, options = {}): Promise<BucketEntry | null> => {
        if (!c.connected || !c.nc) throw unavailable(`bucket ${name}`);
        const min = options.minRevision ?? 0;
        const last = { last_by_subj: subjectOf(key) };
        const deadline = Date.now() + READ_BUDGET_MS;
        let failure: unknown;
        // A replica that just went away (a node killed with the request in flight) never answers:
        // each try is short, and the next one goes to another replica (the queue group picks).
        for (let attempt = 0; Date.now() < deadline; attempt++) {
          // Direct, direct, then the leader and a replica in turn; only the leader when asked.
          const leader = options.fromLeader ? true : attempt >= 2 && attempt % 2 === 0;
          const timeout = Math.max(1, Math.min(DIRECT_TRY_MS, deadline - Date.now()));
          try {
            const msg = leader ? await request(`$JS.API.STREAM.MSG.GET.${stream}`, last, timeout) : await request(`$JS.API.DIRECT.GET.${stream}`, last, timeout);
            if (!msg) return null;
            const entry = leader ? storedEntry(key, msg.data) : directEntry(key, msg.headers, msg.data);
            // (a replica behind a write may not have the key at all yet)
            if (entry === 'missing' ? leader || min === 0 : leader || entry.revision >= min) {
              return entry === 'missing' || entry.deleted ? null : { key, value: entry.value, revision: entry.revision };
            }
            // Behind a write the caller was told of: this replica has not applied it yet.
            await sleep(5 * (attempt + 1));
          } catch (error) {
            if (error instanceof DomainError) throw error;
            failure = error;
            if (!c.connected) break;
            if ((error as { code?: string }).code === '503') await sleep(20);
          }
        }
        throw unavailable(`get ${name}.${key}: ${(failure as Error | undefined)?.message ?? 'no replica had the write in time'}`);
      },
      delete: (key) => write(key, EMPTY, del()),
      // Plain publishes between two acknowledged ones: one connection's messages are stored in
      // order, so when the second is stored, so is every one before it — unless the stream
      // refused some (its limits), which the sequence numbers tell. Five times as fast as
      // waiting for each acknowledgement; what the check doubts is written again, acknowledged.
      putMany: async (entries) => {
        await guard();
        const before = await barrier();
        for (const [i, e] of entries.entries()) {
          if (e.value === null) c.nc!.publish(subjectOf(e.key), EMPTY, { headers: del() });
          else c.nc!.publish(subjectOf(e.key), encode(e.value));
          // Let requests in between: a bulk write must not hold up the process's answers.
          if (i % 500 === 499) await new Promise((r) => setImmediate(r));
        }
        const after = await barrier();
        if (after - before - 1 >= entries.length) return;
        c.log.warn('a bulk write was not stored whole; writing it again one by one', { bucket: name, entries: entries.length });
        await Promise.all(
          entries.map((e) => (e.value === null ? c.js!.publish(subjectOf(e.key), EMPTY, { headers: del() }) : c.js!.publish(subjectOf(e.key), encode(e.value)))),
        );
      },
      keys: (batch) => this.keyBatches(guard, batch),
      entries: (batch) => this.entryBatches(name, guard, batch),
      settle: (keys, revision, timeoutMs, values) => this.holders.settle(name, keys, revision, timeoutMs, values),
      size: async () => {
        await guard();
        return (await c.jsm!.streams.info(`KV_${c.named(name)}`)).state.messages;
      },
    };
  }

  private async *keyBatches(guard: () => Promise<KV>, size: number): AsyncIterable<string[]> {
    let batch: string[] = [];
    for await (const key of await (await guard()).keys()) {
      if (key.startsWith('_')) continue;
      batch.push(key);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** The last value of every key, from a watch that ends once it has delivered them. */
  private async *entryBatches(name: string, guard: () => Promise<KV>, size: number): AsyncIterable<BucketEntry[]> {
    const kv = await guard();
    if ((await this.c.jsm!.streams.info(`KV_${this.c.named(name)}`)).state.messages === 0) return;
    const watch = await kv.watch({ key: '>' });
    let batch: BucketEntry[] = [];
    try {
      for await (const e of watch) {
        if (!e.key.startsWith('_') && e.operation === 'PUT') batch.push({ key: e.key, value: decode(e.value), revision: e.revision });
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
        // `delta`: how many of the last values are still to come.
        if (!e.delta) break;
      }
      if (batch.length > 0) yield batch;
    } finally {
      watch.stop();
    }
  }

  /**
   * Follows a bucket through an ordered consumer that starts with the next change, headers only
   * (the key, the revision, whether it was a deletion). It is made
   * again after every reconnect and whenever a consumption ends; each time, once the new one is
   * in place, the follower is told to reset — so nothing that happened meanwhile is missed.
   */
  async follow(bucket: string, follower: Follower): Promise<Stoppable> {
    const { c } = this;
    let stopped = false;
    let current: { stop(): void } | undefined;
    const stream = `KV_${c.named(bucket)}`;
    const prefix = `$KV.${c.named(bucket)}.`;
    // After a reconnect the feed of changes may have a gap: what the follower holds is dropped
    // at once (not only once the new consumer is in place), and the consumer made again.
    const restart = () => {
      if (!stopped) follower.reset();
      current?.stop();
    };
    let inPlace: () => void = () => {};
    const first = new Promise<void>((resolve) => (inPlace = resolve));
    const run = async () => {
      await c.whenConnected();
      while (!stopped && !c.closed) {
        try {
          if (!c.connected) {
            await sleep(200);
            continue;
          }
          await this.kv(bucket); // creates the bucket when nobody has yet
          const consumer = await c.js!.consumers.get(stream, { deliver_policy: DeliverPolicy.New, filterSubjects: `${prefix}>`, headers_only: true });
          const messages = await consumer.consume({ max_messages: 512 });
          current = messages;
          if (stopped) break;
          follower.reset();
          inPlace();
          for await (const m of messages) {
            const op = m.headers?.get('KV-Operation');
            follower.change({ key: m.subject.slice(prefix.length), deleted: op === 'DEL' || op === 'PURGE', revision: m.seq, storedAt: m.info.timestampNanos / 1e6 });
          }
        } catch (error) {
          if (!stopped) c.log.debug('following a bucket was interrupted', { bucket, error: error as Error });
        }
        if (!stopped) await sleep(100);
      }
    };
    const off = c.onReconnect(restart);
    detached(run);
    const stop = async () => {
      stopped = true;
      current?.stop();
      off();
    };
    c.stoppers.add(stop);
    // Resolve once the first consumer is in place (its reset done), so that what the follower
    // learns from now on is not dropped by that reset; NATS being down must not hold up a start.
    if (c.connected) await Promise.race([first, sleep(2000)]);
    return { stop };
  }
}
