import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const migrations: Record<string, Migration> = {
  '2026_11_23_0001_visit': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('visit')
        .ifNotExists()
        .addColumn('visit_id', 'uuid', (c) => c.primaryKey())
        .addColumn('user_id', 'bigint', (c) => c.notNull())
        .addColumn('item_id', 'bigint', (c) => c.notNull())
        .addColumn('visited_at', 'timestamptz', (c) => c.notNull())
        .execute();
      // Recent visits of one user, newest first: an index range scan.
      await sql`CREATE INDEX IF NOT EXISTS visit_user_recent ON visit (user_id, visit_id DESC)`.execute(db);
    },
  },
  '2026_11_23_0002_user_token_index': {
    async up(db: Kysely<any>) {
      await sql`CREATE INDEX IF NOT EXISTS user_access_token ON "user" (access_token)`.execute(db);
    },
  },
};
