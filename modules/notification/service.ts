import { endpoint, serve, type Bus } from '../../platform/bus/index.ts';
import { notificationRequests } from './contract/index.ts';
import type { NotificationUseCases } from './use-cases.ts';

/** The notification domain on the bus. */
export function serveNotifications(bus: Bus, useCases: NotificationUseCases) {
  return serve(bus, { name: 'notification', version: '1.0.0', description: 'minifb notifications (made from FEED_EVENTS by the durable consumer "notifications")' }, [
    endpoint(notificationRequests.unreadCount, async ({ userId }) => ({ unreadCount: await useCases.unreadCount(userId) })),
  ]);
}
