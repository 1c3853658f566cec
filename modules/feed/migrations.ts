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
  /**
   * Counts without a hot row. A reaction or a comment no longer updates the post's row (all the
   * writers of a post queued on its lock) and a post no longer updates one counter row (all the
   * posts of the product queued on it): each write inserts a tally — a row of its own, locked by
   * nobody — and a folder adds the tallies to the counted row in the background. What readers see
   * is the row's count plus its tallies not folded yet, read in one statement (one snapshot), so
   * every answer is exact whether the fold has happened or not (the views below).
   */
  '2026_12_07_0001_tallies': {
    async up(db: Kysely<any>) {
      await sql`
        CREATE TABLE post_tally (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          post_id bigint NOT NULL REFERENCES post (id) ON DELETE CASCADE,
          r1 smallint NOT NULL DEFAULT 0, r2 smallint NOT NULL DEFAULT 0, r3 smallint NOT NULL DEFAULT 0,
          r4 smallint NOT NULL DEFAULT 0, r5 smallint NOT NULL DEFAULT 0,
          comments smallint NOT NULL DEFAULT 0
        )`.execute(db);
      await sql`CREATE INDEX post_tally_post_id ON post_tally (post_id)`.execute(db);
      await sql`
        CREATE TABLE comment_tally (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          comment_id bigint NOT NULL REFERENCES comment (id) ON DELETE CASCADE,
          r1 smallint NOT NULL DEFAULT 0, r2 smallint NOT NULL DEFAULT 0, r3 smallint NOT NULL DEFAULT 0,
          r4 smallint NOT NULL DEFAULT 0, r5 smallint NOT NULL DEFAULT 0
        )`.execute(db);
      await sql`CREATE INDEX comment_tally_comment_id ON comment_tally (comment_id)`.execute(db);
      await sql`
        CREATE TABLE feed_counter_tally (
          id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
          name text NOT NULL,
          delta integer NOT NULL
        )`.execute(db);
      // A post or comment as readers see it: the counts on its row plus its tallies not folded
      // yet (an index range that the folder keeps short; empty for all but the busiest rows).
      await sql`
        CREATE VIEW post_counted AS
        SELECT p.id, p.owner_id, p.content, p.modified, p.created_at,
               p.comment_count + coalesce(t.comments, 0)::int AS comment_count,
               p.r1 + coalesce(t.r1, 0)::int AS r1, p.r2 + coalesce(t.r2, 0)::int AS r2, p.r3 + coalesce(t.r3, 0)::int AS r3,
               p.r4 + coalesce(t.r4, 0)::int AS r4, p.r5 + coalesce(t.r5, 0)::int AS r5
        FROM post p
        CROSS JOIN LATERAL (
          SELECT sum(r1) AS r1, sum(r2) AS r2, sum(r3) AS r3, sum(r4) AS r4, sum(r5) AS r5, sum(comments) AS comments
          FROM post_tally WHERE post_id = p.id
        ) t`.execute(db);
      await sql`
        CREATE VIEW comment_counted AS
        SELECT c.id, c.post_id, c.user_id, c.content, c.modified, c.created_at,
               c.r1 + coalesce(t.r1, 0)::int AS r1, c.r2 + coalesce(t.r2, 0)::int AS r2, c.r3 + coalesce(t.r3, 0)::int AS r3,
               c.r4 + coalesce(t.r4, 0)::int AS r4, c.r5 + coalesce(t.r5, 0)::int AS r5
        FROM comment c
        CROSS JOIN LATERAL (
          SELECT sum(r1) AS r1, sum(r2) AS r2, sum(r3) AS r3, sum(r4) AS r4, sum(r5) AS r5
          FROM comment_tally WHERE comment_id = c.id
        ) t`.execute(db);
    },
  },
};
