import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

/**
 * Tables every module's database gets from the platform, before the module's own migrations:
 * the transactional outbox. Frozen in time like any migration: never edit, add a new one.
 */
export const platformMigrations: Record<string, Migration> = {
  '2026_11_23_0001_outbox': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('platform_outbox')
        .ifNotExists()
        .addColumn('id', 'bigserial', (c) => c.primaryKey())
        // 'event': publish `payload` on `subject` with message id `msg_id`.
        // 'snapshot': put the current value of `key` into bucket `subject` (read at relay time).
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('key', 'text')
        .addColumn('msg_id', 'text')
        .addColumn('payload', 'jsonb')
        .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .execute();
      await sql`CREATE UNIQUE INDEX IF NOT EXISTS platform_outbox_snapshot_key
                ON platform_outbox (subject, key) WHERE kind = 'snapshot'`.execute(db);
    },
  },
  /**
   * Who this database is: a snapshot bucket's marker names the database it was filled from, so
   * an owner whose database was re-created (new identity) fills its buckets again, and one that
   * restarts on the same database does not.
   */
  '2026_12_01_0001_identity': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE platform_identity (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), created_at timestamptz NOT NULL DEFAULT now())`.execute(db);
      await sql`INSERT INTO platform_identity DEFAULT VALUES`.execute(db);
    },
  },
  /**
   * The snapshot keys the relay put lately, and when (the database's clock): a bucket being
   * filled checks each page against it, so a value the fill read before a write cannot end up
   * over the write's (snapshot.ts).
   */
  '2026_12_01_0002_relayed': {
    async up(db: Kysely<any>) {
      await sql`CREATE TABLE platform_relayed (bucket text NOT NULL, key text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())`.execute(db);
      await sql`CREATE INDEX platform_relayed_at ON platform_relayed (bucket, at)`.execute(db);
    },
  },
  /**
   * An event's headers: the request id and W3C trace context of the request that recorded it,
   * sent with the event when it is relayed (later, outside that request).
   */
  '2026_12_02_0001_outbox_headers': {
    async up(db: Kysely<any>) {
      await sql`ALTER TABLE platform_outbox ADD COLUMN IF NOT EXISTS headers jsonb`.execute(db);
    },
  },
};
