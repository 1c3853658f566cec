/**
 * The feed domain's public contract (minifb): posts, comments and reactions are its own; what
 * other domains react to leaves it as events on FEED_EVENTS, each naming the post's owner so
 * that no consumer has to ask.
 */
import { Type, type Static } from '@sinclair/typebox';

/** Stream of the feed's events. Owner: feed. */
export const FEED_EVENTS_STREAM = 'FEED_EVENTS';
export const FEED_EVENTS_SUBJECTS = ['events.feed.>'];

export const feedEvents = {
  /** Someone commented on a post. */
  commented: 'events.feed.commented',
  /** Someone reacted to a post: a new reaction (`first`), or a changed type. */
  postReacted: 'events.feed.post-reacted',
  /** A post was deleted, with its comments and reactions. */
  postDeleted: 'events.feed.post-deleted',
} as const;

const common = {
  /** Unique per event (UUIDv7): consumers store it to handle a redelivery once. */
  eventId: Type.String({ minLength: 1, maxLength: 64 }),
  postId: Type.Integer({ minimum: 1 }),
  /** The user id of the post's owner. */
  postOwner: Type.String({ minLength: 1 }),
  /** ISO timestamp. */
  at: Type.String(),
};

export const Commented = Type.Object({ ...common, actor: Type.String({ minLength: 1 }), commentId: Type.Integer({ minimum: 1 }) });
export type Commented = Static<typeof Commented>;

export const PostReacted = Type.Object({
  ...common,
  actor: Type.String({ minLength: 1 }),
  type: Type.Integer({ minimum: 1, maximum: 5 }),
  /** True when the user had no reaction on the post before; false when only the type changed. */
  first: Type.Boolean(),
});
export type PostReacted = Static<typeof PostReacted>;

export const PostDeleted = Type.Object(common);
export type PostDeleted = Static<typeof PostDeleted>;

export const FeedTotalsRequest = Type.Object({ timeZone: Type.String({ minLength: 1, maxLength: 64 }) });
export const FeedTotals = Type.Object({
  totalPosts: Type.Integer({ minimum: 0 }),
  /** Posts created since midnight in the requested time zone. */
  postsToday: Type.Integer({ minimum: 0 }),
});
export type FeedTotals = Static<typeof FeedTotals>;

/** Request/reply subjects served by the feed service (NATS micro service `feed`). */
export const feedRequests = {
  totals: { subject: 'feed.totals', request: FeedTotalsRequest, reply: FeedTotals, description: 'How many posts there are, and how many today in a time zone' },
} as const;
