import type { Bus } from '../../platform/bus/types.ts';
import { parserOf } from '../../platform/schema.ts';
import { notificationSubjects, UnreadCountRequest } from './contract/index.ts';
import type { NotificationUseCases } from './use-cases.ts';

const parseUnread = parserOf(UnreadCountRequest, 'NOTIFICATION.INVALID');

/** The notification domain on the bus. */
export function serveNotifications(bus: Bus, useCases: NotificationUseCases) {
  return bus.addService({
    name: 'notification',
    version: '1.0.0',
    description: 'minifb notifications (made from FEED_EVENTS by the durable consumer "notifications")',
    endpoints: [
      {
        name: 'unread-count',
        subject: notificationSubjects.unreadCount,
        handler: async (payload) => ({ unreadCount: await useCases.unreadCount(parseUnread(payload).userId) }),
      },
    ],
  });
}
