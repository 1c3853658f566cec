import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const migrations: Record<string, Migration> = {
  '2026_11_24_0001_notification': {
    async up(db: Kysely<any>) {
      await sql`
        CREATE TABLE notification (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          recipient_id text NOT NULL,
          type smallint NOT NULL CHECK (type IN (1, 2)),
          actor_id text NOT NULL,
          post_id bigint NOT NULL,
          read boolean NOT NULL DEFAULT false,
          created_at timestamptz NOT NULL DEFAULT now(),
          event_id text NOT NULL UNIQUE
        )`.execute(db);
      // A list is a range of the first index; unread ones (and their count) of the second.
      await sql`CREATE INDEX notification_recipient ON notification (recipient_id, id DESC)`.execute(db);
      await sql`CREATE INDEX notification_unread ON notification (recipient_id, id DESC) WHERE NOT read`.execute(db);
      await sql`CREATE INDEX notification_post ON notification (post_id)`.execute(db);
      // "Reacted to my post" is told once per user and post, whatever happens to the reaction.
      await sql`CREATE UNIQUE INDEX notification_reacted_once ON notification (post_id, actor_id) WHERE type = 2`.execute(db);
      await sql`CREATE TABLE deleted_post (post_id bigint PRIMARY KEY)`.execute(db);
    },
  },
};
