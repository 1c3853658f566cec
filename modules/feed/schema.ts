import type { ColumnType, Generated } from 'kysely';

/** Reaction counts of a post or comment, one column per type, kept with every reaction. */
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
  /** Kept with every comment added or deleted: a page of posts needs no count query. */
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

/** Counters kept in the same transaction as what they count (`posts`). */
export interface FeedCounterTable {
  name: string;
  value: number;
}

export interface FeedDatabase {
  post: PostTable;
  comment: CommentTable;
  post_reaction: PostReactionTable;
  comment_reaction: CommentReactionTable;
  feed_counter: FeedCounterTable;
}
