import { sql, type Kysely, type Transaction } from 'kysely';
import type { Bus, SnapshotBucket } from './bus/types.ts';
import type { DatabaseKind } from './db.ts';
import type { Logger } from './log.ts';

export type Executor = Kysely<any> | Transaction<any>;

/** Reads the current value of a snapshot key from the owner's database; null deletes the key. */
export type SnapshotSource = (db: Executor, key: string) => Promise<unknown | null>;

/**
 * The transactional outbox: what other domains must learn is written in the same transaction as
 * the change, then relayed to the bus after commit. A 2xx therefore means durable; if the bus is
 * down, rows wait here and the relay catches up when it returns.
 *
 * - events are published with their message id, so a second relay of the same row is dropped by
 *   the stream's de-duplication;
 * - snapshot rows name a key, not a value: the relay reads the current value when it puts it, so
 *   the bucket converges on the database whatever order writes committed in. One row per key;
 *   a write while the row is being relayed bumps its version and the row is relayed again.
 */
export class Outbox {
  private readonly sources = new Map<string, SnapshotSource>();
  private readonly buckets = new Map<string, Promise<SnapshotBucket>>();
  private running: Promise<boolean> | null = null;
  private queued: Promise<boolean> | null = null;
  private timer: ReturnType<typeof setInterval> | undefined;
  private stopped = false;
  /** Per bucket, the newest revision relayed that its replicas have not yet been seen to apply. */
  private readonly unsettled = new Map<string, number>();

  constructor(
    private readonly db: Kysely<any>,
    private readonly dbKind: DatabaseKind,
    private readonly bus: Bus,
    private readonly log: Logger,
  ) {}

  /** Declares how to read the current value of a key of `bucket`. */
  snapshotSource(bucket: string, source: SnapshotSource) {
    this.sources.set(bucket, source);
  }

  /** Records an event inside the caller's transaction. Returns its message id. */
  async event(tx: Executor, subject: string, payload: unknown, msgId: string = Bun.randomUUIDv7()): Promise<string> {
    await tx
      .insertInto('platform_outbox')
      .values({ kind: 'event', subject, msg_id: msgId, payload: JSON.stringify(payload) })
      .execute();
    return msgId;
  }

  /** Records, inside the caller's transaction, that `key` of `bucket` changed. */
  async snapshot(tx: Executor, bucket: string, keys: string | string[]): Promise<void> {
    const list = Array.isArray(keys) ? keys : [keys];
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

  /**
   * Publishes every key of `bucket` now, and again whenever the bus reconnects: a bucket lost
   * with its NATS store (or never written) converges on this database.
   */
  async publishAll(bucket: string, keys: () => Promise<string[]>): Promise<void> {
    const enqueue = async () => this.snapshot(this.db, bucket, await keys());
    await enqueue();
    this.bus.onReconnect(() => {
      enqueue()
        .then(() => this.relay())
        .catch((error) => this.log.warn('could not re-publish a snapshot', { bucket, error }));
    });
  }

  /** Starts the background relay (every `intervalMs`, and at once). */
  start(intervalMs = 500) {
    this.timer = setInterval(() => void this.relay(), intervalMs);
    void this.relay();
  }

  async stop() {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running?.catch(() => {});
    await this.queued?.catch(() => {});
  }

  /**
   * Relays now, and waits until every replica of every bucket written has applied what was
   * written (read-your-writes for the caller's next request, wherever it goes). Resolves true
   * when a pass that started after this call left nothing behind and the replicas have settled;
   * false when the bus is down or `timeoutMs` passed — the rows stay and go out later.
   */
  async flush(timeoutMs = 1000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const relayed = await Promise.race([
      this.relay(),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]).finally(() => clearTimeout(timer));
    if (!relayed) return false;
    for (const [name, revision] of [...this.unsettled]) {
      const settled = await (await this.bucketFor(name)).settled(revision, Math.max(1, deadline - Date.now()));
      if (!settled) return false;
      if (this.unsettled.get(name) === revision) this.unsettled.delete(name);
    }
    return true;
  }

  /** Single flight: at most one pass runs, and at most one more waits behind it. */
  relay(): Promise<boolean> {
    if (!this.running) {
      this.running = this.pass().finally(() => (this.running = null));
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

  private async pass(): Promise<boolean> {
    if (this.stopped || !this.bus.connected) return false;
    try {
      // On Postgres several processes of one module may relay; an advisory lock lets one at a
      // time do it without locking the rows writers upsert. PGlite has one process and one
      // connection, where a held transaction would block every other query.
      if (this.dbKind === 'pg') {
        return await this.db.transaction().execute(async (tx) => {
          const { rows } = await sql<{ locked: boolean }>`SELECT pg_try_advisory_xact_lock(7340031) AS locked`.execute(tx);
          return rows[0]?.locked ? this.drain(tx) : false;
        });
      }
      return await this.drain(this.db);
    } catch (error) {
      this.log.warn('outbox relay failed; rows stay for the next pass', { error });
      return false;
    }
  }

  private async drain(db: Executor): Promise<boolean> {
    for (;;) {
      const rows = await db
        .selectFrom('platform_outbox')
        .select(['id', 'kind', 'subject', 'key', 'msg_id', 'payload', 'version'])
        .orderBy('id')
        .limit(200)
        .execute();
      if (rows.length === 0) return true;
      for (const row of rows) {
        if (row.kind === 'event') {
          const payload = typeof row.payload === 'string' ? JSON.parse(row.payload) : row.payload;
          await this.bus.publish(row.subject, payload, { msgId: row.msg_id });
        } else {
          const source = this.sources.get(row.subject);
          if (!source) throw new Error(`no snapshot source for bucket ${row.subject}`);
          const value = await source(db, row.key);
          const bucket = await this.bucketFor(row.subject);
          const revision = value === null ? await bucket.delete(row.key) : await bucket.put(row.key, value);
          this.unsettled.set(row.subject, Math.max(revision, this.unsettled.get(row.subject) ?? 0));
        }
        await db.deleteFrom('platform_outbox').where('id', '=', row.id).where('version', '=', row.version).execute();
      }
      if (rows.length < 200) {
        // Rows whose version moved on while relayed are still there: go round once more.
        const left = await db.selectFrom('platform_outbox').select('id').limit(1).execute();
        if (left.length === 0) return true;
      }
    }
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
