import type { Static, TSchema } from '@sinclair/typebox';
import { DomainError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import { parserOf } from './schema.ts';
import { call, type RequestDescriptor } from './rpc.ts';
import type { BucketChange, Bus, Handed, SnapshotBucket, Stoppable } from './types.ts';

/**
 * A snapshot bucket as a contract declares it: its name, what a value holds, how a key of the
 * domain becomes a bucket key, and whom to ask while the bucket cannot vouch for a key.
 */
export interface BucketDescriptor<K, V extends TSchema = TSchema, Req extends TSchema = TSchema> {
  bucket: string;
  value: V;
  key: (k: K) => string;
  /**
   * The owner's request for one key, asked only while the owner has not finished publishing
   * the bucket (a key it lacks may yet come). An error of kind NOT_FOUND or UNAUTHORIZED means
   * "no such key".
   */
  owner?: { request: RequestDescriptor<Req, V>; payload: (k: K) => Static<Req> };
}

/**
 * The key an owner writes into its bucket once every key of its database is in it; readers
 * learn from it whether a key the bucket lacks is absent for good. Keys starting with `_` are
 * the platform's, never a domain's.
 */
export const SNAPSHOT_MARKER = '_snapshot';
export interface SnapshotMarker {
  /** The identity of the database the bucket was filled from. */
  db: string;
  state: 'filling' | 'complete';
  /** While filling: where the last page ended (the owner resumes there after a restart). */
  after?: string;
  at: string;
}
/** How long after a reconnect a copy's misses ask the bucket's leader first (see `leaderReadsUntil`). */
const LEADER_READS_AFTER_RESET_MS = 10_000;
/** How long a copy waits for the bucket, or for the owner, before the request is a 503. */
const READ_TIMEOUT_MS = 500;
/**
 * How long a value a writer handed over (the bucket could not store it yet) is held at most
 * without the writer settling the key again once stored; then the bucket is read as usual.
 */
const PIN_MS = 15_000;
/** How long a read of a key not held waits for NATS to be reachable again before it is a 503. */
const RECONNECT_WAIT_MS = 300;
/** How long a held key waits, after the connection went away, for it to come back (see get). */
const MOVING_MS = 1000;
/** Revision of a handed-over value: above any the bucket has, so no change of it drops the value. */
const PINNED = Number.MAX_SAFE_INTEGER;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new DomainError('BUS.TIMEOUT', `${what} took over ${ms} ms`)), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

const isComplete = (value: unknown) => (value as SnapshotMarker | null)?.state === 'complete';

export interface CopyStats {
  bucket: string;
  entries: number;
  hits: number;
  misses: number;
  /** Misses the owner answered (the bucket was still being filled). */
  fallbacks: number;
}

export interface CopyOptions<V, D> {
  /** How many keys the copy holds at most; the least recently used go first. */
  capacity: number;
  /** Turns a value into what readers use (done once per value held, not per read). */
  derive?: (value: V) => D;
  /**
   * For a bucket bounded by its domain (the catalog): hold all of it from the start, and read
   * it again whenever the copy resets — so it answers every key even while NATS is away.
   */
  preload?: boolean;
  log: Logger;
  /** Told, for each change the copy follows, how long after it was stored it arrived (seconds). */
  onLag?: (seconds: number) => void;
}

interface Held<D> {
  /** undefined: the bucket has no such key. */
  value: D | undefined;
  revision: number;
  /** A value its writer handed over before the bucket could store it: held until then. */
  pinnedUntil?: number;
}

/** A read's answer, and whether the copy may hold it. */
type Loaded<D> = Held<D> & { keep: boolean };

/**
 * A bounded copy of a snapshot bucket: the one way a module reads another domain's data.
 *
 * - A held key answers from memory, at once.
 * - A key not held is read from the bucket (a direct get) and then held. A key the bucket lacks
 *   is absent once its owner has published every key (the marker says so); until then the owner
 *   is asked. When neither the bucket nor the owner can answer, it is a 503, never a guess.
 * - The copy follows the bucket's changes and drops the keys it holds that changed (a deletion
 *   it applies at once); a writer tells it to drop a key before answering (read-your-writes);
 *   when the feed of changes may have a gap (a reconnect), everything held is dropped and read
 *   again on demand.
 * - When NATS is unreachable, held keys still answer and the others are a 503.
 */
export class Copy<K, D> {
  private readonly entries = new Map<string, Held<D>>();
  /** Reads under way, by key; a change or a drop of the key removes its entry here. */
  private readonly loading = new Map<string, Promise<D | undefined>>();
  /** Keys a writer settled, with the revision of that write: a read must find it or later. */
  private readonly floors = new Map<string, number>();
  /**
   * Until when a miss asks the bucket's leader first. After a reconnect the copy may have missed
   * settles (its writer took it for gone while it moved to another node), so it knows no floor for
   * what changed meanwhile — and a replica that is behind (a node just back from a restart) would
   * answer the old value. The leader has every write that was acknowledged.
   */
  private leaderReadsUntil = 0;
  /** Whether the owner has published every key; undefined: not read yet. */
  private complete: boolean | undefined;
  private markerRead: Promise<boolean> | undefined;
  private readonly parse: (value: unknown) => unknown;
  private readonly stoppers: Stoppable[] = [];
  private counts = { hits: 0, misses: 0, fallbacks: 0 };
  /**
   * Whether the copy holds every key of the bucket, its owner having published them all (a
   * preloaded copy, once read whole): it answers every key without NATS.
   */
  private whole = false;
  /** Bumped by whatever may leave a key out of a preload under way (a reset, an unheld key's change). */
  private generation = 0;
  private preloading: Promise<void> | undefined;
  /** A preload asked for while one runs: whether it must read even an unpublished bucket. */
  private preloadAgain: 'full' | 'published' | undefined;

  constructor(
    private readonly bus: Bus,
    private readonly store: SnapshotBucket,
    private readonly descriptor: BucketDescriptor<K>,
    private readonly options: CopyOptions<unknown, D>,
  ) {
    this.parse = parserOf(descriptor.value, 'BUS.INVALID');
  }

  async start() {
    const name = this.descriptor.bucket;
    this.stoppers.push(await this.bus.follow(name, { change: (e) => this.change(e), reset: () => this.reset() }));
    this.stoppers.push(await this.bus.hold(name, (keys, revision, values) => this.drop(keys, revision, values)));
    if (this.options.preload) await this.preload();
  }

  /**
   * Whether the copy can answer every read correctly now: NATS is there to read what it does not
   * hold, or it holds the whole bucket. (What /readyz asks.)
   */
  ready(): boolean {
    return this.bus.connected || this.whole;
  }

  /**
   * Reads every entry of the bucket into the copy (up to its capacity); single flight. `whenPublished`:
   * only once the owner has published every key (a reading for wholeness, not for a start).
   */
  private preload(whenPublished = false): Promise<void> {
    if (this.preloading) {
      if (this.preloadAgain !== 'full') this.preloadAgain = whenPublished ? 'published' : 'full';
      return this.preloading;
    }
    this.preloading = this.preloadOnce(whenPublished).finally(() => {
      this.preloading = undefined;
      const again = this.preloadAgain;
      this.preloadAgain = undefined;
      if (again) void this.preload(again === 'published');
    });
    return this.preloading;
  }

  private async preloadOnce(whenPublished: boolean) {
    if (!this.bus.connected) return;
    const generation = this.generation;
    try {
      const published = await this.store.get(SNAPSHOT_MARKER).then((m) => isComplete(m?.value));
      if (whenPublished && !published) return;
      let held = 0;
      for await (const batch of this.store.entries(1000)) {
        for (const e of batch) {
          if ((this.entries.get(e.key)?.revision ?? -1) >= e.revision) continue;
          if (this.entries.size >= this.options.capacity) {
            this.options.log.warn('a preloaded bucket does not fit the copy; holding what fits', { bucket: this.descriptor.bucket, capacity: this.options.capacity });
            return;
          }
          this.entries.set(e.key, { value: this.decode(e.key, e.value), revision: e.revision });
          held++;
        }
      }
      this.whole = published && generation === this.generation;
      this.options.log.debug('copy preloaded', { bucket: this.descriptor.bucket, held });
    } catch (error) {
      this.options.log.warn('could not preload a copy; it reads keys as they are asked for', { bucket: this.descriptor.bucket, error });
    }
  }

  /** The value of `k`, undefined when there is none. Synchronous when held. */
  get(k: K): D | undefined | Promise<D | undefined> {
    const key = this.descriptor.key(k);
    let held = this.entries.get(key);
    if (held?.pinnedUntil !== undefined && held.pinnedUntil < Date.now()) {
      this.entries.delete(key);
      held = undefined;
    }
    // The connection just went away: most likely this process is moving to another node of a
    // NATS cluster, and writes it was not told of (it had no subscription meanwhile) may be
    // under way; back, it drops what it holds. So a held key waits for that a moment first
    // (then, with NATS really down, it answers from memory as ever).
    if (held && !this.bus.connected && this.bus.disconnectedAt !== undefined && Date.now() - this.bus.disconnectedAt < MOVING_MS) {
      const wait = MOVING_MS - (Date.now() - this.bus.disconnectedAt);
      return this.bus.awaitConnection(wait).then(() => this.get(k));
    }
    if (held) {
      this.counts.hits++;
      this.entries.delete(key);
      this.entries.set(key, held);
      return held.value;
    }
    this.counts.misses++;
    let loading = this.loading.get(key);
    if (!loading) {
      const p: Promise<D | undefined> = this.load(k, key).then(
        ({ value, revision, keep }) => {
          // A change or a drop that came meanwhile removed the entry: this answer may be older.
          if (this.loading.get(key) === p) {
            this.loading.delete(key);
            if (keep) {
              this.hold(key, value, revision);
              this.floors.delete(key);
            }
          }
          return value;
        },
        (error) => {
          if (this.loading.get(key) === p) this.loading.delete(key);
          throw error;
        },
      );
      this.loading.set(key, (loading = p));
    }
    return loading;
  }

  /** Whether the copy holds `k` (for tests and metrics). */
  holds(k: K): boolean {
    return this.entries.has(this.descriptor.key(k));
  }

  stats(): CopyStats {
    return { bucket: this.descriptor.bucket, entries: this.entries.size, ...this.counts };
  }

  async stop() {
    for (const s of this.stoppers.splice(0)) await s.stop().catch(() => {});
  }

  private async load(k: K, key: string, again = true): Promise<Loaded<D>> {
    const name = this.descriptor.bucket;
    // A process moving to another node of a NATS cluster is back within milliseconds.
    if (!this.bus.connected && !(await this.bus.awaitConnection(RECONNECT_WAIT_MS))) {
      throw new DomainError('BUS.UNAVAILABLE', `NATS is unreachable and this process does not hold ${name} ${key}`);
    }
    const owner = this.descriptor.owner;
    let entry;
    try {
      entry = await withTimeout(this.store.get(key, { minRevision: this.floors.get(key), fromLeader: Date.now() < this.leaderReadsUntil }), READ_TIMEOUT_MS, `reading ${name} ${key}`);
    } catch (error) {
      // The connection went away while the read was in flight (its node stopped): the process
      // is back on another node within milliseconds, as before the read — once.
      if (again && !this.bus.connected && (await this.bus.awaitConnection(RECONNECT_WAIT_MS))) return this.load(k, key, false);
      // The bucket cannot answer now (a cluster electing its leader, a replica that went away
      // with the request): its owner can, from its database.
      if (!owner || !this.bus.connected || (error instanceof DomainError && error.code === 'BUS.INVALID')) throw error;
      this.options.log.debug('a bucket did not answer; asking its owner', { bucket: name, key, error });
    }
    if (entry) return { value: this.decode(key, entry.value), revision: entry.revision, keep: true };
    if (entry === null && (await (owner ? this.ownerHasPublished().catch(() => false) : this.ownerHasPublished()))) return { value: undefined, revision: 0, keep: true };
    if (!owner) throw new DomainError('BUS.UNAVAILABLE', `the ${name} bucket is still being filled by its owner`);
    this.counts.fallbacks++;
    // The owner's answer is held when it is a value (a later change of it is settled or
    // followed); "no such key" is not: the fill may write the key any moment, and nobody settles
    // a fill.
    try {
      return { value: this.derive(await call(this.bus, owner.request, owner.payload(k), { timeoutMs: READ_TIMEOUT_MS })), revision: 0, keep: true };
    } catch (error) {
      if (error instanceof DomainError && (error.kind === 'NOT_FOUND' || error.kind === 'UNAUTHORIZED')) return { value: undefined, revision: 0, keep: false };
      throw error;
    }
  }

  private ownerHasPublished(): Promise<boolean> {
    if (this.complete !== undefined) return Promise.resolve(this.complete);
    const read: Promise<boolean> = (this.markerRead ??= this.store.get(SNAPSHOT_MARKER).then(
      (marker) => {
        // A marker change that came meanwhile is newer than this read.
        if (this.markerRead === read && this.complete === undefined) this.complete = isComplete(marker?.value);
        return isComplete(marker?.value);
      },
      (error) => {
        this.markerRead = undefined;
        throw error;
      },
    ));
    return read;
  }

  private decode(key: string, value: unknown): D {
    try {
      return this.derive(this.parse(value));
    } catch (error) {
      this.options.log.error('a snapshot bucket holds a value outside its contract', { bucket: this.descriptor.bucket, key, error });
      throw new DomainError('BUS.UNAVAILABLE', `the ${this.descriptor.bucket} bucket holds an invalid value for ${key}`);
    }
  }

  private derive(value: unknown): D {
    return this.options.derive ? this.options.derive(value) : (value as D);
  }

  private hold(key: string, value: D | undefined, revision: number, pinnedUntil?: number) {
    if (this.entries.size >= this.options.capacity && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.delete(key);
    this.entries.set(key, pinnedUntil === undefined ? { value, revision } : { value, revision, pinnedUntil });
  }

  private change(c: BucketChange) {
    if (c.storedAt !== undefined) this.options.onLag?.(Math.max(0, Date.now() - c.storedAt) / 1000);
    if (c.key === SNAPSHOT_MARKER) {
      // What the marker says now is read on the next miss that needs it.
      this.complete = undefined;
      this.markerRead = undefined;
      // A preloaded copy that is not whole may be now (the owner has finished publishing).
      if (this.options.preload && !this.whole) void this.preload(true);
      return;
    }
    this.loading.delete(c.key);
    const held = this.entries.get(c.key);
    if (held && c.revision <= held.revision) return;
    if (held && c.deleted) {
      held.value = undefined;
      held.revision = c.revision;
      return;
    }
    // Read again when next asked for: one direct get, only for keys in use.
    if (held) this.entries.delete(c.key);
    if (!c.deleted) this.lacking();
  }

  /**
   * A writer's settle (see `Drop`): a key held takes the value handed over (no read after a
   * write: a replica behind the others cannot answer it); one not held is dropped, its next read
   * to find the write's revision or later; a value not stored yet is held until the writer
   * settles the key again — the bucket could not store it (no leader for a moment), and a read
   * must show the write all the same.
   */
  private drop(keys: string[], revision: number, values?: Record<string, Handed>) {
    let dropped = false;
    for (const key of keys) {
      this.loading.delete(key);
      const handed = values?.[key];
      const held = this.entries.get(key);
      // A settle that comes late (sent again) must not put an older value over a newer one.
      if (handed && held && held.pinnedUntil === undefined && handed.revision > 0 && held.revision > handed.revision) continue;
      if (handed && (handed.revision === 0 || held)) {
        try {
          const value = handed.value == null ? undefined : this.decode(key, handed.value);
          if (handed.revision === 0) this.hold(key, value, PINNED, Date.now() + PIN_MS);
          else this.hold(key, value, handed.revision);
          this.floors.delete(key);
          continue;
        } catch {
          // (an invalid value is logged by decode; the key is read from the bucket instead)
        }
      }
      dropped = this.entries.delete(key) || dropped;
      const floor = handed?.revision || revision;
      if (floor > 0) {
        if (this.floors.size >= this.options.capacity) this.floors.delete(this.floors.keys().next().value!);
        this.floors.set(key, floor);
      }
    }
    if (dropped) this.lacking();
  }

  /** The copy lacks a key of the bucket (new, changed or dropped): a preloaded one is whole again once it has read the bucket again. */
  private lacking() {
    if (!this.options.preload) return;
    this.generation++;
    if (this.whole || this.preloading) {
      this.whole = false;
      void this.preload(true);
    }
  }

  private reset() {
    this.leaderReadsUntil = Date.now() + LEADER_READS_AFTER_RESET_MS;
    this.whole = false;
    this.generation++;
    // Values handed over by writers stay: the bucket does not have them yet.
    const pinned = [...this.entries].filter(([, h]) => h.pinnedUntil !== undefined && h.pinnedUntil >= Date.now());
    this.entries.clear();
    for (const [key, h] of pinned) this.entries.set(key, h);
    this.loading.clear();
    this.complete = undefined;
    this.markerRead = undefined;
    if (this.options.preload) void this.preload();
  }
}

/** Opens a bounded copy of the bucket a contract describes (see Copy). */
export async function copyOf<K, S extends TSchema, D = Static<S>>(
  bus: Bus,
  descriptor: BucketDescriptor<K, S>,
  options: { capacity: number; derive?: (value: Static<S>) => D; preload?: boolean; log: Logger; onLag?: (seconds: number) => void },
): Promise<Copy<K, D>> {
  const copy = new Copy<K, D>(bus, await bus.bucket(descriptor.bucket), descriptor as BucketDescriptor<K>, options as CopyOptions<unknown, D>);
  await copy.start();
  return copy;
}
