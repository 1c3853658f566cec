import type { Bus } from '../../platform/bus/types.ts';
import { DomainError } from '../../platform/errors.ts';
import { parserOf } from '../../platform/schema.ts';
import { isTimeZone } from '../../platform/time-zone.ts';
import { FeedTotalsRequest, feedSubjects } from './contract/index.ts';
import type { FeedUseCases } from './use-cases.ts';

const parseTotals = parserOf(FeedTotalsRequest, 'FEED.INVALID');

/** The feed domain on the bus. */
export function serveFeed(bus: Bus, useCases: FeedUseCases) {
  return bus.addService({
    name: 'feed',
    version: '1.0.0',
    description: 'minifb posts, comments and reactions (owner of the FEED_EVENTS stream)',
    endpoints: [
      {
        name: 'totals',
        subject: feedSubjects.totals,
        handler: async (payload) => {
          const { timeZone } = parseTotals(payload);
          if (!isTimeZone(timeZone)) throw new DomainError('FEED.INVALID', `timeZone: unknown time zone ${timeZone}`);
          return useCases.totals(timeZone);
        },
      },
    ],
  });
}
