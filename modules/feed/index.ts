import { minifbModule } from '../../platform/module.ts';
import { jwtSecret } from '../../platform/secrets.ts';
import { FEED_EVENTS_STREAM, FEED_EVENTS_SUBJECTS } from './contract/index.ts';
import { feedHttp } from './http.ts';
import { migrations } from './migrations.ts';
import { accountsBucket } from '../account/contract/index.ts';
import type { FeedDatabase } from './schema.ts';
import { serveFeed } from './service.ts';
import { feedUseCases } from './use-cases.ts';

export const feedModule = minifbModule<FeedDatabase>({
  name: 'feed',
  splitPort: 8002,
  routes: ['/post', '/timeline', '/comment'],
  migrations,
  async start({ db, bus, outbox, log, config, copyOf, clock }) {
    const secret = jwtSecret(config, log);
    await bus.ensureStream({ name: FEED_EVENTS_STREAM, subjects: FEED_EVENTS_SUBJECTS });
    const accounts = await copyOf(accountsBucket);
    const account = (id: string) => accounts.get(id);
    const useCases = feedUseCases({ db, outbox, account });
    const service = await serveFeed(bus, useCases);
    return {
      http: feedHttp(useCases, account, { secret, clock }),
      stop: () => service.stop(),
    };
  },
});
