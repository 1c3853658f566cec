import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const migrations: Record<string, Migration> = {
  /**
   * The contract keeps one alarm per user and item; the kit's table has no constraint for it.
   * Remove duplicates a database might already hold (oldest row kept), then let the database
   * enforce it, so concurrent "set" requests cannot make two rows.
   */
  '2026_11_23_0001_alarm_unique': {
    async up(db: Kysely<any>) {
      await sql`DELETE FROM alarm a USING alarm b
                WHERE a.user_id = b.user_id AND a.item_id = b.item_id AND a.id > b.id`.execute(db);
      await sql`CREATE UNIQUE INDEX IF NOT EXISTS alarm_user_item ON alarm (user_id, item_id)`.execute(db);
    },
  },
};
