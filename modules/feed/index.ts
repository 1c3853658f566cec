import { minifbModule } from '../../platform/module.ts';
import { jwtSecret } from '../../platform/secrets.ts';
import { FEED_EVENTS_STREAM, FEED_EVENTS_SUBJECTS } from './contract/index.ts';
import { feedHttp } from './http.ts';
import { migrations } from './migrations.ts';
import { accountsBucket } from '../account/contract/index.ts';
import type { FeedDatabase } from './schema.ts';
import { serveFeed } from './service.ts';
import { feedUseCases } from './use-cases.ts';
import { Recurring } from '../../platform/data/recurring.ts';

/** How soon after a write its tallies are folded (one fold carries every write meanwhile). */
const FOLD_SOON_MS = 50;

export const feedModule = minifbModule<FeedDatabase>({
  name: 'feed',
  splitPort: 8002,
  routes: ['/post', '/timeline', '/comment'],
  migrations,
  async start({ db, background, bus, outbox, log, config, copyOf, clock }) {
    const secret = jwtSecret(config, log);
    await bus.ensureStream({ name: FEED_EVENTS_STREAM, subjects: FEED_EVENTS_SUBJECTS });
    const accounts = await copyOf(accountsBucket);
    const account = (id: string) => accounts.get(id);
    // The tallies of reactions and comments are folded into their rows soon after they are
    // written, and every second (what another process left).
    let folder: Recurring | undefined;
    const useCases = feedUseCases({ db, background, outbox, account, tallied: () => folder?.soon() });
    folder = new Recurring('folding the feed tallies', () => useCases.foldTallies(), { soonMs: FOLD_SOON_MS, everyMs: 1000, log }).start();
    const service = await serveFeed(bus, useCases);
    return {
      http: feedHttp(useCases, account, { secret, clock }),
      stop: async () => {
        await service.stop();
        await folder.stop();
      },
    };
  },
});
