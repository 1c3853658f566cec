import { sql, type Kysely } from 'kysely';
import type { Bus, SnapshotBucket } from '../bus/types.ts';
import type { Logger } from '../observability/log.ts';
import { outgoingHeaders } from '../observability/request-context.ts';
import { reconcileBucket, type Executor, type SharedBucket } from './snapshot.ts';

export type { Executor, SharedBucket } from './snapshot.ts';

/** How a relay pass ended for the writes it carried. */
export type RelayOutcome =
  /** Everything is on the bus, and every process holding a key written has dropped it. */
  | 'done'
  /** NATS is unreachable: the rows wait, and go out when it is back. */
  | 'bus-down'
  /**
   * A bucket could not store a write yet (a cluster electing its leader), but every process
   * holding it took the new value from the relay: reads show the write; the rows stay and go
   * out on a later pass.
   */
  | 'held'
  /** Something failed or took too long; the rows that were not relayed go out later. */
  | 'failed';

/** How soon a write's events are relayed in the background (one pass for every write meanwhile). */
const RELAY_SOON_MS = 5;
/** Rows read per step of a relay pass. */
const BATCH = 500;
/**
 * How long a pass waits for the holders of a bucket to drop what it wrote: less than a write's
 * budget, so that a holder that does not answer ends the pass (failed) before the writes behind
 * it run out of theirs.
 */
const SETTLE_MS = 700;
/** The least a flush waits for its pass, whatever its caller spent before (a settle takes milliseconds). */
const MIN_FLUSH_MS = 100;
/** How long a pass waits for a lost NATS connection to come back (another node of a cluster). */
const RECONNECT_WAIT_MS = 400;
/** How often an owner checks that its buckets still hold its snapshot (NATS may lose them). */
const RECONCILE_EVERY_MS = 30_000;

/**
 * The transactional outbox: what other domains must learn is written in the same transaction as
 * the change, then relayed to the bus after commit. A 2xx therefore means durable; if the bus is
 * down, rows wait here and the relay catches up when it returns.
 *
 * - events are published with their message id, so a second relay of the same row is dropped by
 *   the stream's de-duplication;
 * - snapshot rows name a key, not a value: the relay reads the current value when it puts it, so
 *   the bucket converges on the database whatever order writes committed in. One row per key;
 *   a write while the row is being relayed bumps its version and the row is relayed again;
 * - no transaction spans a pass and no row is locked while the bus is written to: a writer never
 *   waits on the relay. Several processes of one module may relay the same row at once; both
 *   outcomes are the same (de-duplicated events, the same current value).
 *
 * An owner also keeps its shared buckets whole (`share`): at start, after every reconnect and
 * every RECONCILE_EVERY_MS it checks each bucket's marker and fills what is missing
 * (snapshot.ts) — in the background, in pages, never holding up a write.
 */
export class Outbox {
  private readonly shared = new Map<string, SharedBucket>();
  private readonly buckets = new Map<string, Promise<SnapshotBucket>>();
  private running: Promise<RelayOutcome> | null = null;
  /** When a pass last ended well (everything relayed and settled): flush's measure of progress. */
  private passedAt = 0;
  private queued: Promise<RelayOutcome> | null = null;
  private timers: ReturnType<typeof setInterval>[] = [];
  private stopped = false;
  private reconciling: Promise<void> | null = null;
  private identity: Promise<string> | undefined;
  /**
   * Snapshot rows wait for the first look at the buckets' markers: a key this module's relay put
   * into a bucket before it was marked would make the bucket look like another database's (and
   * have it swept). Settled within milliseconds of start, or when that look fails.
   */
  private markersChecked: Promise<void> = Promise.resolve();
  private markerChecked: () => void = () => {};

  constructor(
    private readonly db: Kysely<any>,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Declares a bucket this module owns: how to page through it and read keys' current values. */
  share(shared: SharedBucket) {
    this.shared.set(shared.bucket, shared);
  }

  /**
   * Records an event inside the caller's transaction. Returns its message id. The request id and
   * trace context of the request recording it are stored with it, and relayed with it.
   */
  async event(tx: Executor, subject: string, payload: unknown, msgId: string = Bun.randomUUIDv7()): Promise<string> {
    const headers = outgoingHeaders();
    await tx
      .insertInto('platform_outbox')
      .values({ kind: 'event', subject, msg_id: msgId, payload: JSON.stringify(payload), headers: Object.keys(headers).length > 0 ? JSON.stringify(headers) : null })
      .execute();
    return msgId;
  }

  /** Records, inside the caller's transaction, that keys of `bucket` changed. */
  async snapshot(tx: Executor, bucket: string, keys: string | string[]): Promise<void> {
    const list = [...new Set(Array.isArray(keys) ? keys : [keys])];
    if (list.length === 0) return;
    await tx
      .insertInto('platform_outbox')
      .values(list.map((key) => ({ kind: 'snapshot', subject: bucket, key })))
      .onConflict((oc) =>
        oc
          .columns(['subject', 'key'])
          .where('kind', '=', 'snapshot')
          .doUpdateSet({ version: sql`platform_outbox.version + 1` }),
      )
      .execute();
  }

  /** How many rows wait to be relayed (for the metrics). */
  async waiting(): Promise<number> {
    const row = await this.db.selectFrom('platform_outbox').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /** Starts the background relay (every `intervalMs`, and at once) and the buckets' upkeep. */
  start(intervalMs = 500) {
    this.timers.push(setInterval(() => void this.relay(), intervalMs));
    void this.relay();
    if (this.shared.size > 0) {
      this.markersChecked = new Promise((resolve) => (this.markerChecked = resolve));
      this.timers.push(setInterval(() => void this.reconcile(), RECONCILE_EVERY_MS));
      this.bus.onReconnect(() => void this.reconcile());
      void this.reconcile();
    }
  }

  async stop() {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.soonTimer);
    await this.running?.catch(() => {});
    await this.queued?.catch(() => {});
    await this.reconciling?.catch(() => {});
  }

  /**
   * Relays now what is waiting (a pass that starts after this call). 'done' means the writes are
   * on the bus and every copy holding a key written has dropped it: the caller's next read, in
   * any process, shows the write. Bounded by progress: 'timeout' once no pass has ended well for
   * `timeoutMs` while the caller waited — passes ahead that keep ending (a burst of writes) are
   * waited for; one stuck on a holder that does not answer is not. `waitingSince`: when the
   * caller started waiting (before its commit, say), so that time already spent counts, though
   * never to less than MIN_FLUSH_MS from now.
   */
  async flush(timeoutMs: number, waitingSince?: number): Promise<RelayOutcome | 'timeout'> {
    const since = performance.now();
    waitingSince ??= since;
    const outcome = this.relay();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      for (;;) {
        const left = Math.max(Math.max(waitingSince, this.passedAt) + timeoutMs, since + MIN_FLUSH_MS) - performance.now();
        if (left <= 0) return 'timeout';
        const ended = await Promise.race([outcome, new Promise<undefined>((resolve) => void (timer = setTimeout(() => resolve(undefined), left)))]);
        clearTimeout(timer);
        if (ended !== undefined) return ended;
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private soonTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Relays within RELAY_SOON_MS, in the background: what every write asks for meanwhile goes in
   * one pass (a pass costs its queries whatever it carries — under load, one per write would
   * double the database's work).
   */
  soon(): void {
    if (this.soonTimer || this.stopped) return;
    this.soonTimer = setTimeout(() => {
      this.soonTimer = undefined;
      void this.relay();
    }, RELAY_SOON_MS);
  }

  /** Single flight: at most one pass runs, and at most one more waits behind it. */
  relay(): Promise<RelayOutcome> {
    if (!this.running) {
      this.running = this.pass()
        .then((outcome) => {
          if (outcome === 'done' || outcome === 'held') this.passedAt = performance.now();
          return outcome;
        })
        .finally(() => (this.running = null));
      return this.running;
    }
    if (!this.queued) {
      this.queued = this.running.then(() => {
        this.queued = null;
        return this.relay();
      });
    }
    return this.queued;
  }

  /** Reconciles every shared bucket (single flight); see snapshot.ts. */
  reconcile(): Promise<void> {
    this.reconciling ??= (async () => {
      try {
        if (!this.bus.connected || this.stopped) return;
        const identity = await this.databaseIdentity();
        await this.db.deleteFrom('platform_relayed').where('at', '<', sql<Date>`now() - interval '10 minutes'`).execute();
        const checked = new Set<string>();
        for (const shared of this.shared.values()) {
          await reconcileBucket({
            db: this.db,
            identity,
            shared,
            bucket: await this.bucketFor(shared.bucket),
            log: this.log,
            stopped: () => this.stopped,
            checked: () => checked.add(shared.bucket) && checked.size === this.shared.size && this.markerChecked(),
          });
        }
      } catch (error) {
        this.markerChecked();
        this.log.warn('could not reconcile a snapshot bucket; trying again in 2 s', { error });
        if (!this.stopped) this.timers.push(setTimeout(() => void this.reconcile(), 2000) as unknown as ReturnType<typeof setInterval>);
      } finally {
        this.reconciling = null;
      }
    })();
    return this.reconciling;
  }

  /**
   * One pass over the rows that were there when it started (later ones wait for the next pass,
   * so a pass ends under any load). The outcome is 'done' only if every row was relayed and
   * every holder dropped what was written.
   */
  private async pass(again = true): Promise<RelayOutcome> {
    if (this.stopped) return 'failed';
    // A process moving to another node of a NATS cluster is back within milliseconds: 'bus-down'
    // (a write answered without its copies settled) is for NATS being away, not for that.
    if (!this.bus.connected && !(await this.bus.awaitConnection(RECONNECT_WAIT_MS))) return 'bus-down';
    try {
      const top = await this.db.selectFrom('platform_outbox').select((eb) => eb.fn.max('id').as('id')).executeTakeFirst();
      if (top?.id == null) return 'done';
      const last = Number(top.id);
      let after = 0;
      let settled = true;
      let held = false;
      for (;;) {
        const rows = await this.db
          .selectFrom('platform_outbox')
          .select(['id', 'kind', 'subject', 'key', 'msg_id', 'payload', 'version', 'headers'])
          .where('id', '>', after)
          .where('id', '<=', last)
          .orderBy('id')
          .limit(BATCH)
          .execute();
        if (rows.length === 0) break;
        after = Number(rows[rows.length - 1]!.id);
        const outcome = await this.relayRows(rows);
        settled = outcome !== 'failed' && settled;
        // Handed over but not stored, or stored but not confirmed by every holder: the rows stay,
        // and the next pass puts the keys' current values and settles them again — a holder that
        // missed this one (unreachable for a while, not yet counted out) is told then.
        if (outcome === 'held' || outcome === 'failed') {
          held ||= outcome === 'held';
          continue;
        }
        await this.db
          .deleteFrom('platform_outbox')
          .where((eb) => eb.or(rows.map((r) => eb.and([eb('id', '=', r.id), eb('version', '=', r.version)]))))
          .execute();
      }
      return !settled ? 'failed' : held ? 'held' : 'done';
    } catch (error) {
      if (!this.bus.connected) return again && (await this.bus.awaitConnection(RECONNECT_WAIT_MS)) ? this.pass(false) : 'bus-down';
      this.log.warn('outbox relay failed; rows stay for the next pass', { error });
      return 'failed';
    }
  }

  /** Publishes a batch (events at once; snapshot keys by bucket): 'done' when every holder settled. */
  private async relayRows(rows: { kind: string; subject: string; key: string | null; msg_id: string | null; payload: unknown; headers: unknown }[]): Promise<'done' | 'held' | 'failed'> {
    const events = rows.filter((r) => r.kind === 'event');
    const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);
    // Each event with the headers of the request that recorded it (none: not those of whatever
    // request this pass happens to run in).
    const publishing = Promise.all(
      events.map((r) => this.bus.publish(r.subject, json(r.payload), { msgId: r.msg_id!, headers: (json(r.headers) as Record<string, string> | null) ?? {} })),
    );
    const byBucket = new Map<string, string[]>();
    for (const r of rows) if (r.kind === 'snapshot') byBucket.set(r.subject, [...(byBucket.get(r.subject) ?? []), r.key!]);
    if (byBucket.size > 0) await this.markersChecked;
    let settled = true;
    let held = false;
    for (const [name, keys] of byBucket) {
      const shared = this.shared.get(name);
      if (!shared) throw new Error(`no shared bucket ${name} in this module`);
      const values = await shared.values(this.db, keys);
      // Recorded before the bucket is written: a fill that may have read an older value finds it.
      await this.db.insertInto('platform_relayed').values(keys.map((key) => ({ bucket: name, key }))).execute();
      const bucket = await this.bucketFor(name);
      let revisions: number[];
      try {
        revisions = await Promise.all(keys.map((k) => (values.get(k) == null ? bucket.delete(k) : bucket.put(k, values.get(k)))));
      } catch (error) {
        // NATS is there but the bucket cannot store now (no leader for a moment): hand the values
        // to the processes holding the bucket, so that reads show the write meanwhile.
        if (!this.bus.connected) throw error;
        const handed = Object.fromEntries(keys.map((k) => [k, { value: values.get(k) ?? null, revision: 0 }]));
        if (!(await bucket.settle(keys, 0, SETTLE_MS, handed))) throw error;
        this.log.debug('a bucket could not store a write yet; its holders hold the values', { bucket: name, keys: keys.length, error });
        held = true;
        continue;
      }
      // The new values go with it: a holder replaces what it holds, and reads nothing back.
      const handed = Object.fromEntries(keys.map((k, i) => [k, { value: values.get(k) ?? null, revision: revisions[i]! }]));
      settled = (await bucket.settle(keys, Math.max(...revisions), SETTLE_MS, handed)) && settled;
    }
    await publishing;
    return !settled ? 'failed' : held ? 'held' : 'done';
  }

  private databaseIdentity(): Promise<string> {
    this.identity ??= this.db
      .selectFrom('platform_identity')
      .select('id')
      .executeTakeFirstOrThrow()
      .then((r) => String(r.id));
    this.identity.catch(() => (this.identity = undefined));
    return this.identity;
  }

  private bucketFor(name: string) {
    let b = this.buckets.get(name);
    if (!b) {
      b = this.bus.bucket(name);
      b.catch(() => this.buckets.delete(name));
      this.buckets.set(name, b);
    }
    return b;
  }
}
