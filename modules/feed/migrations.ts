import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const migrations: Record<string, Migration> = {
  '2026_11_24_0001_feed': {
    async up(db: Kysely<any>) {
      // Reaction counts (r1..r5) and the comment count live on the row they count, updated in
      // the transaction that changes them: a page of posts is one query, whatever it shows.
      await sql`
        CREATE TABLE post (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          owner_id text NOT NULL,
          content text NOT NULL,
          modified boolean NOT NULL DEFAULT false,
          created_at timestamptz NOT NULL DEFAULT now(),
          comment_count integer NOT NULL DEFAULT 0,
          r1 integer NOT NULL DEFAULT 0, r2 integer NOT NULL DEFAULT 0, r3 integer NOT NULL DEFAULT 0,
          r4 integer NOT NULL DEFAULT 0, r5 integer NOT NULL DEFAULT 0
        )`.execute(db);
      // A timeline is a range of the first index; "posts today" a range of the second.
      await sql`CREATE INDEX post_owner_id ON post (owner_id, id DESC)`.execute(db);
      await sql`CREATE INDEX post_created_at ON post (created_at)`.execute(db);

      await sql`
        CREATE TABLE comment (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          post_id bigint NOT NULL REFERENCES post (id) ON DELETE CASCADE,
          user_id text NOT NULL,
          content text NOT NULL,
          modified boolean NOT NULL DEFAULT false,
          created_at timestamptz NOT NULL DEFAULT now(),
          r1 integer NOT NULL DEFAULT 0, r2 integer NOT NULL DEFAULT 0, r3 integer NOT NULL DEFAULT 0,
          r4 integer NOT NULL DEFAULT 0, r5 integer NOT NULL DEFAULT 0
        )`.execute(db);
      await sql`CREATE INDEX comment_post_id ON comment (post_id, id)`.execute(db);

      // One reaction per user and target: the primary key enforces it.
      await sql`
        CREATE TABLE post_reaction (
          post_id bigint NOT NULL REFERENCES post (id) ON DELETE CASCADE,
          user_id text NOT NULL,
          type smallint NOT NULL CHECK (type BETWEEN 1 AND 5),
          modified boolean NOT NULL DEFAULT false,
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (post_id, user_id)
        )`.execute(db);
      await sql`
        CREATE TABLE comment_reaction (
          comment_id bigint NOT NULL REFERENCES comment (id) ON DELETE CASCADE,
          user_id text NOT NULL,
          type smallint NOT NULL CHECK (type BETWEEN 1 AND 5),
          created_at timestamptz NOT NULL DEFAULT now(),
          PRIMARY KEY (comment_id, user_id)
        )`.execute(db);

      await sql`CREATE TABLE feed_counter (name text PRIMARY KEY, value bigint NOT NULL)`.execute(db);
      await sql`INSERT INTO feed_counter (name, value) VALUES ('posts', 0)`.execute(db);
    },
  },
};
