import type { Static, TSchema } from '@sinclair/typebox';
import { DomainError, isUnavailable } from '../errors.ts';
import { markLocal } from '../observability/request-context.ts';
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
  /**
   * A key the bucket lacks means "none" (a user without alarms), so a copy holding the whole
   * bucket answers it while NATS is away — marked local once its lease has lapsed, as every
   * answer then is. Without it (a token, an account), a key not held while NATS is away is a
   * 503: it may have been made meanwhile (a sign-up the account process took alone), and
   * "unknown" would be a guess.
   */
  missingMeansNone?: boolean;
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
/**
 * All a read of a key not held may take before it is a 503 — NATS reachable again, the owner,
 * then the bucket, against one deadline — so that a 503 is answered well within a second.
 */
const READ_BUDGET_MS = 650;
/** The owner's share at most; the bucket (a direct get, sub-millisecond when answered) keeps at least BUCKET_MIN_MS. */
const OWNER_BUDGET_MS = 400;
const BUCKET_MIN_MS = 150;
/** How long a read of a key not held waits for NATS to be reachable again (within its budget). */
const RECONNECT_WAIT_MS = 300;
/** A read whose connection went while it was in flight is read once more, with this much more time (under a second in all). */
const AGAIN_MS = 300;
/** Keys of the hot set read again at once after a reset. */
const REFILL_IN_FLIGHT = 8;
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
  /** Misses the owner answered (its database first: the bucket only when it does not answer). */
  fallbacks: number;
  /** Whether the copy holds every key of its bucket (it answers every key without NATS). */
  whole: boolean;
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
  /** A value its writer handed over before the bucket could store it: held until it settles the key again. */
  pinned?: true;
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
 *   again on demand — what was held answering meanwhile as `previous` (see there).
 * - When NATS is unreachable, held keys still answer and the others are a 503.
 */
export class Copy<K, D> {
  private readonly entries = new Map<string, Held<D>>();
  /** Reads under way, by key; a change or a drop of the key removes its entry here. */
  private readonly loading = new Map<string, Promise<D | undefined>>();
  /** Keys a writer settled, with the revision of that write: a read must find it or later. */
  private readonly floors = new Map<string, number>();
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
  /** Whether the bucket fits the copy (read whole); undefined until a fill looked. */
  private fits: boolean | undefined;
  /** The keys held before the last reset, least recently used first: what a refill reads again. */
  private hot: string[] = [];
  /**
   * What was held before the feed of changes last had a gap (a reconnect), read again as keys are
   * asked for. The lease makes them as good as held values: no write was answered without this
   * process dropping what it changed — so while the lease is valid a key asked for is answered
   * from here at once (and read again behind the answer), and otherwise when reading it fails
   * (marked local). A change or a drop of a key takes it out; being counted out empties it.
   */
  private previous = new Map<string, Held<D>>();
  /** Whether `previous` was the whole bucket (a key it lacks is none, where that is what it means). */
  private previousWhole = false;
  /** Keys a copy that holds its whole bucket is reading again (changed, dropped): not absent. */
  private readonly rereading = new Set<string>();
  /**
   * When each key last changed or was dropped (a count, `touches`): a fill or a refill whose read
   * of a key a change overtook does not hold what it read (it may be older).
   */
  private readonly touched = new Map<string, number>();
  private touches = 0;
  /** Fills and refills under way: touches are kept only while one is (and forgotten after). */
  private reading = 0;
  private failures = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;

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
    // A gap in the feed of changes (a reconnect) keeps what was held as `previous`; being counted
    // out as a holder (writes may have been answered without this process) keeps nothing.
    this.stoppers.push(await this.bus.follow(name, { change: (e) => this.change(e), reset: () => this.reset(true) }));
    this.stoppers.push(await this.bus.hold(name, { drop: (keys, revision, values) => this.drop(keys, revision, values), reset: () => this.reset(false) }));
    this.stoppers.push({ stop: async () => void ((this.stopped = true), clearTimeout(this.retry)) });
    // A copy that must hold its bucket whole (the catalog) has it before the module starts; any
    // other fills itself in the background.
    if (this.options.preload) await this.preload();
    else void this.preload();
  }

  /**
   * Whether the copy can answer every read correctly now: NATS is there to read what it does not
   * hold, or it holds the whole bucket. (What /readyz asks.)
   */
  ready(): boolean {
    return this.bus.connected || this.whole;
  }

  /**
   * Fills the copy in the background, so that a NATS that goes away costs nothing that fits
   * (single flight, tried again until done): a bucket that fits the copy is read whole; one that
   * does not, the keys held before the last reset (the hot set) are read again.
   * `whenPublished`: only once the owner has published every key (a reading for wholeness).
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

  private preloadOnce(whenPublished: boolean) {
    return this.whileReading(() => this.fillOnce(whenPublished));
  }

  /** Runs a fill or refill: while any runs, the keys that change are touched (see `touched`). */
  private async whileReading(read: () => Promise<void>) {
    this.reading++;
    try {
      await read();
    } finally {
      if (--this.reading === 0) this.touched.clear();
    }
  }

  /** A key changed or was dropped: a fill or refill under way must not hold what it read of it. */
  private touch(key: string) {
    if (this.reading > 0) this.touched.set(key, ++this.touches);
  }

  private async fillOnce(whenPublished: boolean) {
    clearTimeout(this.retry);
    if (this.stopped) return;
    const generation = this.generation;
    const from = this.touches;
    try {
      if (!this.bus.connected) throw new DomainError('BUS.UNAVAILABLE', 'NATS is unreachable');
      // (the marker, and any deletion markers, count too: a bucket a little over fits is read)
      this.fits = (await this.store.size()) <= this.options.capacity + 1;
      if (!this.fits && !this.options.preload) {
        await this.refill(generation);
        this.failures = 0;
        return;
      }
      const published = await this.store.get(SNAPSHOT_MARKER, { fromLeader: true }).then((m) => isComplete(m?.value));
      // Not published whole yet: the owner's marker, when it changes, calls for a fill again.
      if (whenPublished && !published) return;
      let held = 0;
      for await (const batch of this.store.entries(1000)) {
        for (const e of batch) {
          if ((this.entries.get(e.key)?.revision ?? -1) >= e.revision) continue;
          // Changed since the fill began: read again on its own (lacking), not from this page.
          if ((this.touched.get(e.key) ?? 0) > from) continue;
          if (this.entries.size >= this.options.capacity) {
            this.options.log.warn('a bucket does not fit the copy; holding what fits', { bucket: this.descriptor.bucket, capacity: this.options.capacity });
            this.fits = false;
            return;
          }
          this.entries.set(e.key, { value: this.decode(e.key, e.value), revision: e.revision });
          held++;
        }
      }
      this.whole = published && generation === this.generation;
      // (held whole again: what was held before is all read again)
      if (this.whole) {
        this.previous.clear();
        this.previousWhole = false;
      }
      this.failures = 0;
      this.options.log.debug('copy filled', { bucket: this.descriptor.bucket, held, whole: this.whole });
    } catch (error) {
      // Tried again until it is done (a NATS whose JetStream has no leaders yet, a cluster
      // electing): 0.5 s, doubling to 5 s.
      const wait = Math.min(500 * 2 ** this.failures++, 5000);
      this.options.log.warn('could not fill a copy yet; it reads keys as they are asked for, and tries again', { bucket: this.descriptor.bucket, inMs: wait, error });
      this.retry = setTimeout(() => void this.preload(whenPublished), wait);
    }
  }

  /** Reads the hot set again (most recently used first), a few keys at a time, from the bucket's leader. */
  private refill(generation: number) {
    return this.whileReading(() => this.refillOnce(generation));
  }

  private async refillOnce(generation: number) {
    const keys = this.hot.reverse();
    this.hot = [];
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < keys.length && generation === this.generation && !this.stopped; i = next++) {
        const key = keys[i]!;
        if (this.entries.has(key) || this.loading.has(key) || this.entries.size >= this.options.capacity) {
          this.rereading.delete(key);
          continue;
        }
        const from = this.touches;
        const entry = await this.store.get(key, { minRevision: this.floors.get(key), fromLeader: true });
        // A key the bucket lacks is none only once its owner has published every key: a bucket
        // NATS re-created empty lacks them all until then (read on demand meanwhile: the owner).
        const known = !!entry || (await this.ownerHasPublished().catch(() => false));
        if (generation !== this.generation) continue;
        // Changed again while this read was under way: what it read may be older; read once more.
        if ((this.touched.get(key) ?? 0) > from) {
          keys.push(key);
          continue;
        }
        // (held meanwhile — handed over, or read on demand: what came first stays)
        if (known && !this.entries.has(key) && !this.loading.has(key)) this.hold(key, entry ? this.decode(key, entry.value) : undefined, entry?.revision ?? 0);
        this.rereading.delete(key);
      }
    };
    try {
      await Promise.all(Array.from({ length: REFILL_IN_FLIGHT }, worker));
    } catch (error) {
      // (the keys not read yet stay the hot set: the next fill reads them)
      if (generation === this.generation) this.hot.unshift(...keys.slice(next).reverse());
      throw error;
    }
    if (keys.length > 0) this.options.log.debug('copy refilled its hot set', { bucket: this.descriptor.bucket, keys: keys.length });
  }

  /** The value of `k`, undefined when there is none. Synchronous when held. */
  get(k: K): D | undefined | Promise<D | undefined> {
    const key = this.descriptor.key(k);
    const held = this.entries.get(key);
    // While its lease is valid, no write can have been answered without this process dropping
    // what it changed; once it is not, the answer says it may be behind (and when the process is
    // counted out, it drops everything: reset).
    if (!this.bus.vouches()) markLocal('copy-not-vouched');
    if (held) {
      this.counts.hits++;
      this.entries.delete(key);
      this.entries.set(key, held);
      return held.value;
    }
    this.counts.misses++;
    const before = this.previous.get(key);
    if (before && this.bus.vouches()) {
      // (read again behind the answer; a failure leaves the key here)
      this.read(k, key).catch(() => {});
      return before.value;
    }
    if (before || (this.previousWhole && this.descriptor.missingMeansNone)) {
      return this.read(k, key).catch((error: unknown) => {
        if (!isUnavailable(error)) throw error;
        const still = this.previous.get(key);
        if (!still && !(this.previousWhole && this.descriptor.missingMeansNone)) throw error;
        markLocal('copy-not-vouched');
        return still?.value;
      });
    }
    return this.read(k, key);
  }

  /** Reads a key not held (one read at a time per key) and holds what it finds. */
  private read(k: K, key: string): Promise<D | undefined> {
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
              this.previous.delete(key);
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
    return { bucket: this.descriptor.bucket, entries: this.entries.size, ...this.counts, whole: this.whole };
  }

  async stop() {
    for (const s of this.stoppers.splice(0)) await s.stop().catch(() => {});
  }

  /**
   * A key not held: its owner is asked first — its database has every write a writer was
   * answered for, whereas a bucket read may be answered by a node that has not caught up (one
   * rejoining its peers after a partition still answers as the leader it was). Only when the
   * owner does not answer (down, slow) is the bucket read: the last state the owner published.
   */
  private async load(k: K, key: string, again = true, deadline = performance.now() + READ_BUDGET_MS): Promise<Loaded<D>> {
    const name = this.descriptor.bucket;
    const left = () => Math.max(1, deadline - performance.now());
    // A process moving to another node of a NATS cluster is back within milliseconds.
    // A copy that holds its whole bucket answers a key it does not hold as none, where that is
    // what a missing key means (missingMeansNone) and it is not being read again after a change.
    if (!this.bus.connected && this.whole && !this.rereading.has(key) && this.descriptor.missingMeansNone) {
      return { value: undefined, revision: 0, keep: false };
    }
    if (!this.bus.connected && !(await this.bus.awaitConnection(Math.min(RECONNECT_WAIT_MS, left())))) {
      throw new DomainError('BUS.UNAVAILABLE', `NATS is unreachable and this process does not hold ${name} ${key}`);
    }
    const owner = this.descriptor.owner;
    if (owner) {
      try {
        const value = this.derive(await call(this.bus, owner.request, owner.payload(k), { timeoutMs: Math.max(1, Math.min(OWNER_BUDGET_MS, left() - BUCKET_MIN_MS)) }));
        this.counts.fallbacks++;
        // Held: a later change of the key is settled with this process (a holder) or followed.
        return { value, revision: 0, keep: true };
      } catch (error) {
        // "No such key" from the owner is not held: a token of nobody asked for again and again
        // must not fill the copy (a key made later is settled with this process anyway).
        if (error instanceof DomainError && (error.kind === 'NOT_FOUND' || error.kind === 'UNAUTHORIZED')) return { value: undefined, revision: 0, keep: false };
        if (!isUnavailable(error)) throw error;
        this.options.log.debug('the owner did not answer; reading the bucket', { bucket: name, key, error });
      }
    }
    let entry;
    try {
      entry = await withTimeout(this.store.get(key, { minRevision: this.floors.get(key), fromLeader: true }), left(), `reading ${name} ${key}`);
    } catch (error) {
      // The connection went away while the read was in flight (its node stopped): the process
      // is back on another node within milliseconds, as before the read — once.
      if (again && !this.bus.connected && (await this.bus.awaitConnection(Math.min(RECONNECT_WAIT_MS, left())))) return this.load(k, key, false, deadline + AGAIN_MS);
      throw error;
    }
    if (entry) return { value: this.decode(key, entry.value), revision: entry.revision, keep: true };
    if (await this.ownerHasPublished()) return { value: undefined, revision: 0, keep: true };
    throw new DomainError('BUS.UNAVAILABLE', `the ${name} bucket is still being filled by its owner, and the owner does not answer`);
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

  private hold(key: string, value: D | undefined, revision: number, pinned = false) {
    if (this.entries.size >= this.options.capacity && !this.entries.has(key)) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.delete(key);
    this.entries.set(key, pinned ? { value, revision, pinned } : { value, revision });
  }

  private change(c: BucketChange) {
    if (c.storedAt !== undefined) this.options.onLag?.(Math.max(0, Date.now() - c.storedAt) / 1000);
    if (c.key === SNAPSHOT_MARKER) {
      // What the marker says now is read on the next miss that needs it.
      this.complete = undefined;
      this.markerRead = undefined;
      // A copy that is not whole may be now (the owner has finished publishing).
      if (this.fillsWhole() && !this.whole) void this.preload(true);
      return;
    }
    // The bucket's own keys (`_barrier`, a writer's fence) hold no value of the contract.
    if (c.key.startsWith('_')) return;
    this.touch(c.key);
    this.loading.delete(c.key);
    this.previous.delete(c.key);
    const held = this.entries.get(c.key);
    if (held && c.revision <= held.revision) return;
    if (held && c.deleted) {
      held.value = undefined;
      held.revision = c.revision;
      return;
    }
    // Read again when next asked for: one read, only for keys in use.
    if (held) this.entries.delete(c.key);
    if (!c.deleted) this.lacking([c.key]);
  }

  /**
   * A writer's settle (see `Drop`): a key held takes the value handed over (no read after a
   * write: a replica behind the others cannot answer it); one not held is dropped, its next read
   * to find the write's revision or later; a value not stored yet is held until the writer
   * settles the key again — the bucket could not store it (no leader for a moment), and a read
   * must show the write all the same.
   */
  private drop(keys: string[], revision: number, values?: Record<string, Handed>) {
    const dropped: string[] = [];
    for (const key of keys) {
      this.touch(key);
      this.loading.delete(key);
      this.previous.delete(key);
      const handed = values?.[key];
      const held = this.entries.get(key);
      // A settle that comes late (sent again) must not put an older value over a newer one.
      if (handed && held && !held.pinned && handed.revision > 0 && held.revision > handed.revision) continue;
      // (a copy that holds its whole bucket takes a new key's value too)
      if (handed && (handed.revision === 0 || held || this.whole)) {
        try {
          const value = handed.value == null ? undefined : this.decode(key, handed.value);
          if (handed.revision === 0) this.hold(key, value, PINNED, true);
          else this.hold(key, value, handed.revision);
          this.floors.delete(key);
          continue;
        } catch {
          // (an invalid value is logged by decode; the key is read from the bucket instead)
        }
      }
      if (this.entries.delete(key) || this.whole || this.preloading) dropped.push(key);
      const floor = handed?.revision || revision;
      if (floor > 0) {
        if (this.floors.size >= this.options.capacity) this.floors.delete(this.floors.keys().next().value!);
        this.floors.set(key, floor);
      }
    }
    if (dropped.length > 0) this.lacking(dropped);
  }

  /** Whether the copy holds (or is to hold) its whole bucket: a catalog, or a bucket that fits. */
  private fillsWhole(): boolean {
    return this.options.preload === true || this.fits === true;
  }

  /**
   * The copy lacks keys of the bucket (new, changed or dropped): one that fills whole reads them
   * again, one by one (a fill under way leaves them to this: they are touched).
   */
  private lacking(keys: string[]) {
    // Only a copy that is whole, or being filled, reads keys again: one whose bucket is still
    // being published by its owner (a first start: every key changes once) reads it whole when
    // the owner marks it complete, and meanwhile reads keys as they are asked for.
    if (!this.fillsWhole() || (!this.whole && !this.preloading)) return;
    const generation = this.generation;
    for (const key of keys) this.rereading.add(key);
    this.hot.push(...keys);
    void this.refill(generation).catch(() => {
      // (a key not read again is read when asked for; the next fill reads it anyway)
      this.whole = false;
    });
  }

  /**
   * Drops what is held, to be read again: after a gap in the feed of changes (`keep`: what was
   * held stays as `previous`), or after being counted out as a holder (nothing stays).
   */
  private reset(keep: boolean) {
    if (keep) {
      for (const [key, h] of this.entries) if (!h.pinned) this.previous.set(key, h);
      this.previousWhole ||= this.whole;
      while (this.previous.size > this.options.capacity) this.previous.delete(this.previous.keys().next().value!);
    } else {
      this.previous.clear();
      this.previousWhole = false;
    }
    this.whole = false;
    this.generation++;
    // Values handed over by writers stay: the bucket does not have them yet.
    const pinned = [...this.entries].filter(([, h]) => h.pinned);
    // (a hot set not read again yet — NATS came back without its store, say — stays in it)
    const held = [...this.entries.keys()].filter((key) => !this.entries.get(key)!.pinned);
    this.hot = [...new Set([...this.hot, ...held])].slice(-this.options.capacity);
    this.entries.clear();
    for (const [key, h] of pinned) this.entries.set(key, h);
    this.loading.clear();
    this.rereading.clear();
    this.touched.clear();
    this.complete = undefined;
    this.markerRead = undefined;
    void this.preload();
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
