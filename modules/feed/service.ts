import { endpoint, serve, type Bus } from '../../platform/bus/index.ts';
import { DomainError } from '../../platform/errors.ts';
import { isTimeZone } from '../../platform/time-zone.ts';
import { feedRequests } from './contract/index.ts';
import type { FeedUseCases } from './use-cases.ts';

/** The feed domain on the bus. */
export function serveFeed(bus: Bus, useCases: FeedUseCases) {
  return serve(bus, { name: 'feed', version: '1.0.0', description: 'minifb posts, comments and reactions (owner of the FEED_EVENTS stream)' }, [
    endpoint(feedRequests.totals, async ({ timeZone }) => {
      if (!isTimeZone(timeZone)) throw new DomainError('FEED.INVALID', `timeZone: unknown time zone ${timeZone}`);
      return useCases.totals(timeZone);
    }),
  ]);
}
