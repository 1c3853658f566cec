import type { Kysely } from 'kysely';
import type { Consumer } from '../../platform/bus/index.ts';
import { markLocal } from '../../platform/observability/request-context.ts';
import type { Item } from '../item/contract/index.ts';
import type { User } from './contract/index.ts';
import { countUsers, insertVisits, recentVisits, usersBefore } from './queries.ts';
import type { UserDatabase } from './schema.ts';

/** Users read per page of `GET /`: the list streams, whatever the number of users. */
const LIST_PAGE = 1000;

export function userUseCases(deps: {
  db: Kysely<UserDatabase>;
  visits: () => Consumer | undefined;
  itemOf: (id: number) => Item | undefined | Promise<Item | undefined>;
  alarmsOf: (userId: number) => Promise<readonly number[]>;
}) {
  const { db, itemOf, alarmsOf } = deps;

  return {
    /** Every user, id descending: the count, then the users page by page as they are read. */
    async listUsers(): Promise<{ count: number; pages: AsyncIterable<User[]> }> {
      const count = await countUsers(db);
      async function* pages() {
        let before: number | undefined;
        for (;;) {
          const page = await usersBefore(db, before, LIST_PAGE);
          if (page.length > 0) yield page;
          if (page.length < LIST_PAGE) return;
          before = page[page.length - 1]!.id;
        }
      }
      return { count, pages: pages() };
    },

    /** Item ids of the recent-visit rule, after every visit already in the stream is stored. */
    async recentItemIds(userId: number): Promise<number[]> {
      // Every visit already in the stream stored first; when that cannot be known in time (the
      // consumer is not there, NATS cannot say), the answer says it may lack the latest ones.
      const visits = deps.visits();
      if (!visits || !(await visits.caughtUp(500))) markLocal('visits-not-caught-up');
      return recentVisits(db, userId);
    },

    async recentVisits(userId: number) {
      const [ids, alarmed] = await Promise.all([this.recentItemIds(userId), alarmsOf(userId)]);
      const items = (await Promise.all(ids.map(itemOf))).filter((i): i is Item => i !== undefined);
      const payload = items.map((i) => ({ ...i, is_alarm_set: alarmed.includes(i.id) }));
      return { count: payload.length, payload };
    },

    /** Handles many VisitRecorded events in one statement; idempotent. */
    recordVisits: (visits: { visitId: string; userId: number; itemId: number; at: string }[]) => insertVisits(db, visits),
  };
}

export type UserUseCases = ReturnType<typeof userUseCases>;
