/**
 * The notification domain's public contract (minifb). Notifications are made from the feed's
 * events (FEED_EVENTS, durable consumer `notifications`); other domains need nothing of them.
 */
import { Type, type Static } from '@sinclair/typebox';

/** The durable consumer of FEED_EVENTS that makes notifications. */
export const NOTIFICATIONS_CONSUMER = 'notifications';

/** 1: someone commented on my post; 2: someone reacted to my post (the first time). */
export const NotificationType = Type.Union([Type.Literal(1), Type.Literal(2)]);
export type NotificationType = Static<typeof NotificationType>;

export const UnreadCountRequest = Type.Object({ userId: Type.String({ minLength: 1, maxLength: 200 }) });
export const UnreadCount = Type.Object({ unreadCount: Type.Integer({ minimum: 0 }) });
export type UnreadCount = Static<typeof UnreadCount>;

/** Request/reply subjects served by the notification service (NATS micro service `notification`). */
export const notificationRequests = {
  unreadCount: { subject: 'notification.unread-count', request: UnreadCountRequest, reply: UnreadCount, description: "How many of the user's notifications are unread" },
} as const;
