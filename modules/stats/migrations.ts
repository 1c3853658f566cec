import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const migrations: Record<string, Migration> = {
  '2026_11_24_0001_stats': {
    async up(db: Kysely<any>) {
      // Per second for the last hour (rps, the chart); per minute for the last day (the rest).
      await sql`CREATE TABLE second_total (second timestamptz PRIMARY KEY, count bigint NOT NULL)`.execute(db);
      await sql`CREATE TABLE status_minute (minute timestamptz NOT NULL, status smallint NOT NULL, count bigint NOT NULL, PRIMARY KEY (minute, status))`.execute(db);
      await sql`CREATE TABLE endpoint_minute (minute timestamptz NOT NULL, endpoint text NOT NULL, count bigint NOT NULL, PRIMARY KEY (minute, endpoint))`.execute(db);
      await sql`CREATE TABLE seen_batch (msg_id text PRIMARY KEY, seen_at timestamptz NOT NULL)`.execute(db);
      await sql`CREATE INDEX seen_batch_seen_at ON seen_batch (seen_at)`.execute(db);
    },
  },
};
