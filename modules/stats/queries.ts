import { sql, type Kysely, type Transaction } from 'kysely';
import type { RequestBatch } from '../../platform/observability/telemetry.ts';
import type { StatsDatabase } from './schema.ts';

type Db = Kysely<StatsDatabase> | Transaction<StatsDatabase>;

/** Adds one process's second of requests, once per message id. Returns false for a repeat. */
export async function addBatch(db: Transaction<StatsDatabase>, msgId: string, batch: RequestBatch): Promise<boolean> {
  const fresh = await db
    .insertInto('seen_batch')
    .values({ msg_id: msgId, seen_at: new Date() })
    .onConflict((oc) => oc.column('msg_id').doNothing())
    .returning('msg_id')
    .executeTakeFirst();
  if (!fresh) return false;
  const second = new Date(batch.second * 1000);
  const minute = new Date(Math.floor(batch.second / 60) * 60_000);
  await db
    .insertInto('second_total')
    .values({ second, count: batch.total })
    .onConflict((oc) => oc.column('second').doUpdateSet({ count: sql`second_total.count + excluded.count` }))
    .execute();
  const statuses = Object.entries(batch.byStatus).map(([status, count]) => ({ minute, status: Number(status), count }));
  if (statuses.length > 0) {
    await db
      .insertInto('status_minute')
      .values(statuses)
      .onConflict((oc) => oc.columns(['minute', 'status']).doUpdateSet({ count: sql`status_minute.count + excluded.count` }))
      .execute();
  }
  const endpoints = Object.entries(batch.byEndpoint).map(([endpoint, count]) => ({ minute, endpoint, count }));
  if (endpoints.length > 0) {
    await db
      .insertInto('endpoint_minute')
      .values(endpoints)
      .onConflict((oc) => oc.columns(['minute', 'endpoint']).doUpdateSet({ count: sql`endpoint_minute.count + excluded.count` }))
      .execute();
  }
  return true;
}

/** Requests per second, second by second, from `since` on (seconds without requests are absent). */
export async function secondsSince(db: Db, since: Date): Promise<{ second: Date; count: number }[]> {
  const rows = await db.selectFrom('second_total').select(['second', 'count']).where('second', '>=', since).orderBy('second').execute();
  return rows.map((r) => ({ second: r.second, count: Number(r.count) }));
}

export async function byStatusSince(db: Db, since: Date): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('status_minute')
    .select(['status', (eb) => eb.fn.sum<number>('count').as('n')])
    .where('minute', '>=', since)
    .groupBy('status')
    .orderBy('status')
    .execute();
  return Object.fromEntries(rows.map((r) => [String(r.status), Number(r.n)]));
}

export async function byEndpointSince(db: Db, since: Date): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('endpoint_minute')
    .select(['endpoint', (eb) => eb.fn.sum<number>('count').as('n')])
    .where('minute', '>=', since)
    .groupBy('endpoint')
    .orderBy('n', 'desc')
    .orderBy('endpoint')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.endpoint, Number(r.n)]));
}

/** Drops what no figure looks at any more. */
export async function prune(db: Db, now: Date): Promise<void> {
  const hourAgo = new Date(now.getTime() - 3_660_000);
  const dayAgo = new Date(now.getTime() - 25 * 3_600_000);
  await db.deleteFrom('second_total').where('second', '<', hourAgo).execute();
  await db.deleteFrom('status_minute').where('minute', '<', dayAgo).execute();
  await db.deleteFrom('endpoint_minute').where('minute', '<', dayAgo).execute();
  await db.deleteFrom('seen_batch').where('seen_at', '<', dayAgo).execute();
}
