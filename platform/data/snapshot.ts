import { sql, type Kysely, type Transaction } from 'kysely';
import { SNAPSHOT_MARKER, type SnapshotMarker } from '../bus/copy.ts';
import type { SnapshotBucket } from '../bus/types.ts';
import type { Logger } from '../observability/log.ts';

export type Executor = Kysely<any> | Transaction<any>;

/** How an owner shares a snapshot bucket: its data in pages, and the current value of keys. */
export interface SharedBucket {
  bucket: string;
  /**
   * One page of the bucket's keys with their values, in an order that does not change, after
   * the cursor `after` (undefined: from the start); `next` is undefined after the last page.
   */
  page(db: Executor, after: string | undefined, limit: number): Promise<{ entries: { key: string; value: unknown }[]; next: string | undefined }>;
  /** The current value of each key; a key the database no longer backs is null (deleted). */
  values(db: Executor, keys: string[]): Promise<Map<string, unknown>>;
}

/**
 * A page of rows as `SharedBucket.page` answers it: each row under its key, the cursor of the last
 * one when the page is full (there may be more).
 */
export function pageOf<R>(rows: R[], limit: number, key: (row: R) => string, cursor: (row: R) => string = key, value: (row: R) => unknown = (row) => row) {
  const last = rows[rows.length - 1];
  return { entries: rows.map((r) => ({ key: key(r), value: value(r) })), next: rows.length < limit || last === undefined ? undefined : cursor(last) };
}

/** Rows found for keys, as `SharedBucket.values` answers them: null for a key no row backs. */
export function valuesOf<R>(keys: string[], rows: R[], key: (row: R) => string, value: (row: R) => unknown = (row) => row): Map<string, unknown> {
  const found = new Map(rows.map((r) => [key(r), value(r)]));
  return new Map(keys.map((k) => [k, found.get(k) ?? null]));
}

/** Entries written per bulk write (and read per page): a few tens of milliseconds each. */
export const PAGE_SIZE = 10_000;

export type ReconcileOutcome = 'current' | 'filled' | 'stopped';

/**
 * Makes a bucket hold this database's data, without writing what it already holds.
 *
 * The bucket's marker (SNAPSHOT_MARKER) names the database it was filled from and whether the
 * fill finished. A marker of this database that says "complete" means there is nothing to do:
 * every later change went through the outbox, whose rows outlive a restart. Otherwise the owner
 * fills the bucket page by page (bulk writes, ~100k keys/s), recording after each page where it
 * stands — a restart resumes there — and, when the bucket held data it cannot vouch for (another
 * database's, or of unknown origin), deletes the keys this database does not back. Only then is
 * the marker "complete"; until it is, readers ask the owner about keys the bucket lacks.
 *
 * No transaction spans it and no row is locked: writes go on meanwhile. A write that commits
 * while a page is in flight is relayed by the outbox; should the page's older value land after
 * the relay's, the keys any relay put since the page was read (platform_relayed, by the
 * database's clock) are written again with their current value — so the bucket ends on the
 * database's current value whichever process relayed it.
 */
export async function reconcileBucket(deps: {
  db: Kysely<any>;
  identity: string;
  shared: SharedBucket;
  bucket: SnapshotBucket;
  log: Logger;
  stopped: () => boolean;
  /** Called once the bucket's state is known (complete, or marked as being filled). */
  checked?: () => void;
}): Promise<ReconcileOutcome> {
  const { db, identity, shared, bucket, log, stopped } = deps;
  const marker = (await bucket.get(SNAPSHOT_MARKER))?.value as SnapshotMarker | null;
  if (marker?.db === identity && marker.state === 'complete') {
    deps.checked?.();
    return 'current';
  }

  const resumeAfter = marker?.db === identity ? marker.after : undefined;
  const foreign = marker ? marker.db !== identity : (await bucket.size()) > 0;
  const started = performance.now();
  const mark = (state: SnapshotMarker['state'], after?: string) =>
    bucket.put(SNAPSHOT_MARKER, { db: identity, state, ...(after === undefined ? {} : { after }), at: new Date().toISOString() } satisfies SnapshotMarker);
  await mark('filling', resumeAfter);
  deps.checked?.();
  log.info('publishing a snapshot', { bucket: shared.bucket, resumeAfter, clearsForeignKeys: foreign });

  const after = resumeAfter;
  let keys = 0;
  const ms = { read: 0, write: 0, check: 0 };
  const timed = async <T>(phase: keyof typeof ms, work: () => Promise<T>) => {
    const t = performance.now();
    try {
      return await work();
    } finally {
      ms[phase] += performance.now() - t;
    }
  };
  // The next page is read while this one is written.
  const read = async (from: string | undefined) => {
    const since = await clock(db);
    return { since, ...(await shared.page(db, from, PAGE_SIZE)) };
  };
  let reading: Promise<Awaited<ReturnType<typeof read>>> | undefined = read(after);
  while (reading) {
    const page = await timed('read', () => reading!);
    if (stopped()) return 'stopped';
    reading = page.next === undefined ? undefined : read(page.next);
    if (page.entries.length > 0) {
      await timed('write', () => bucket.putMany(page.entries));
      await timed('check', () => rewriteRelayed(db, shared, bucket, page.since));
      keys += page.entries.length;
    }
    if (page.next !== undefined) await timed('write', () => mark('filling', page.next));
  }
  if (foreign) {
    for await (const batch of bucket.keys(PAGE_SIZE)) {
      if (stopped()) return 'stopped';
      const current = await shared.values(db, batch);
      const gone = batch.filter((k) => current.get(k) == null);
      if (gone.length > 0) await bucket.putMany(gone.map((key) => ({ key, value: null })));
    }
  }
  await mark('complete');
  const seconds = (performance.now() - started) / 1000;
  log.info('snapshot published', {
    bucket: shared.bucket,
    keys,
    seconds: Math.round(seconds * 10) / 10,
    keysPerSecond: Math.round(keys / Math.max(seconds, 0.001)),
    // Where the time went: waiting for pages, writing them, checking what the relay wrote meanwhile.
    phaseSeconds: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v / 100) / 10])),
  });
  return 'filled';
}

const clock = async (db: Kysely<any>): Promise<Date> => (await sql<{ now: Date }>`SELECT clock_timestamp() AS now`.execute(db)).rows[0]!.now;

/**
 * Writes again, acknowledged, what the relay put since a page was read: the page's value of such
 * a key may be older than the relay's, and may have landed after it. (The relay records a key
 * before it puts it, so every put that could be overtaken is found.)
 */
async function rewriteRelayed(db: Kysely<any>, shared: SharedBucket, bucket: SnapshotBucket, since: Date) {
  const rows = await db.selectFrom('platform_relayed').select('key').distinct().where('bucket', '=', shared.bucket).where('at', '>=', since).execute();
  if (rows.length === 0) return;
  const keys = rows.map((r) => r.key as string);
  const now = await shared.values(db, keys);
  for (const key of keys) {
    const value = now.get(key) ?? null;
    await (value === null ? bucket.delete(key) : bucket.put(key, value));
  }
}
