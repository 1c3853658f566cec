import type { ColumnType, Generated } from 'kysely';

/** Reaction counts of a post or comment, one column per type, as of the last fold of its tallies. */
export interface ReactionCounts {
  r1: Generated<number>;
  r2: Generated<number>;
  r3: Generated<number>;
  r4: Generated<number>;
  r5: Generated<number>;
}

export interface PostTable extends ReactionCounts {
  id: Generated<number>;
  owner_id: string;
  content: string;
  modified: Generated<boolean>;
  created_at: ColumnType<Date, never, never>;
  /** As of the last fold of the post's tallies (post_counted adds the rest). */
  comment_count: Generated<number>;
}

export interface CommentTable extends ReactionCounts {
  id: Generated<number>;
  post_id: number;
  user_id: string;
  content: string;
  modified: Generated<boolean>;
  created_at: ColumnType<Date, never, never>;
}

export interface PostReactionTable {
  post_id: number;
  user_id: string;
  type: number;
  modified: Generated<boolean>;
  created_at: ColumnType<Date, never, never>;
}

export interface CommentReactionTable {
  comment_id: number;
  user_id: string;
  type: number;
  created_at: ColumnType<Date, never, never>;
}

/** Counters of the whole product (`posts`), folded from their tallies. */
export interface FeedCounterTable {
  name: string;
  value: number;
}

/**
 * A change of a post's counts not folded into its row yet: one row per write, so writers never
 * wait on each other (see the migration `2026_12_07_0001_tallies` and tallies.ts).
 */
export interface PostTallyTable extends Partial<Record<'r1' | 'r2' | 'r3' | 'r4' | 'r5' | 'comments', number>> {
  id: Generated<number>;
  post_id: number;
}

export interface CommentTallyTable extends Partial<Record<'r1' | 'r2' | 'r3' | 'r4' | 'r5', number>> {
  id: Generated<number>;
  comment_id: number;
}

export interface FeedCounterTallyTable {
  id: Generated<number>;
  name: string;
  delta: number;
}

/** A post or comment as readers see it: the row's counts plus its tallies (views, read only). */
type Counted<T> = { [K in keyof T]: T[K] extends ColumnType<infer S, any, any> ? ColumnType<S, never, never> : ColumnType<T[K], never, never> };

export interface FeedDatabase {
  post: PostTable;
  comment: CommentTable;
  post_reaction: PostReactionTable;
  comment_reaction: CommentReactionTable;
  feed_counter: FeedCounterTable;
  post_tally: PostTallyTable;
  comment_tally: CommentTallyTable;
  feed_counter_tally: FeedCounterTallyTable;
  post_counted: Counted<PostTable>;
  comment_counted: Counted<CommentTable>;
}
