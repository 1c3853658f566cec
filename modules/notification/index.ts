import { minifbModule } from '../../platform/module.ts';
import { jwtSecret } from '../../platform/secrets.ts';
import { FEED_EVENTS_STREAM, FEED_EVENTS_SUBJECTS } from '../feed/contract/index.ts';
import { NOTIFICATIONS_CONSUMER } from './contract/index.ts';
import { notificationHttp } from './http.ts';
import { migrations } from './migrations.ts';
import { accountsBucket } from '../account/contract/index.ts';
import type { NotificationDatabase } from './schema.ts';
import { serveNotifications } from './service.ts';
import { notificationUseCases } from './use-cases.ts';

export const notificationModule = minifbModule<NotificationDatabase>({
  name: 'notification',
  splitPort: 8003,
  routes: ['/notification'],
  migrations,
  async start({ db, bus, log, config, copyOf, clock }) {
    const secret = jwtSecret(config, log);
    const accounts = await copyOf(accountsBucket);
    const account = (id: string) => accounts.get(id);
    const useCases = notificationUseCases({ db, account });
    // The feed owns the stream; declaring it here too lets this process start first.
    await bus.ensureStream({ name: FEED_EVENTS_STREAM, subjects: FEED_EVENTS_SUBJECTS });
    const consumer = await bus.consume({ stream: FEED_EVENTS_STREAM, durable: NOTIFICATIONS_CONSUMER, handler: (event) => useCases.handle(event) });
    const service = await serveNotifications(bus, useCases);
    return {
      http: notificationHttp(useCases, account, { secret, clock }),
      async stop() {
        await consumer.stop();
        await service.stop();
      },
    };
  },
});
