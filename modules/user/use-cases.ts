import type { Kysely } from 'kysely';
import type { Consumer } from '../../platform/bus/types.ts';
import { DomainError } from '../../platform/errors.ts';
import type { Item } from '../item/contract/index.ts';
import type { User } from './contract/index.ts';
import { insertVisit, recentVisits } from './queries.ts';
import type { UserDatabase } from './schema.ts';

/** The users, held in memory by their owner: read on every request, never written through the API. */
export class Directory {
  private byToken = new Map<string, User>();
  private ordered: User[] = [];

  replace(users: User[]) {
    this.ordered = [...users].sort((a, b) => b.id - a.id);
    this.byToken = new Map(users.map((u) => [u.access_token, u]));
  }

  list(): User[] {
    return this.ordered;
  }

  authenticate(token: string): User {
    const user = this.byToken.get(token);
    if (!user) throw new DomainError('USER.UNAUTHORIZED', 'USER-TOKEN is not a known access token');
    return user;
  }
}

export function userUseCases(deps: {
  db: Kysely<UserDatabase>;
  directory: Directory;
  visits: () => Consumer | undefined;
  itemOf: (id: number) => Promise<Item | undefined>;
  alarmsOf: (userId: number) => Promise<ReadonlySet<number>>;
}) {
  const { db, directory, itemOf, alarmsOf } = deps;

  return {
    listUsers: () => ({ count: directory.list().length, payload: directory.list() }),

    /** Item ids of the recent-visit rule, after every visit already in the stream is stored. */
    async recentItemIds(userId: number): Promise<number[]> {
      await deps.visits()?.caughtUp(500);
      return recentVisits(db, userId);
    },

    async recentVisits(userId: number) {
      const [ids, alarmed] = await Promise.all([this.recentItemIds(userId), alarmsOf(userId)]);
      const items = (await Promise.all(ids.map(itemOf))).filter((i): i is Item => i !== undefined);
      const payload = items.map((i) => ({ ...i, is_alarm_set: alarmed.has(i.id) }));
      return { count: payload.length, payload };
    },

    /** Handles a VisitRecorded event; idempotent. */
    recordVisit: (v: { visitId: string; userId: number; itemId: number; at: string }) => insertVisit(db, v),
  };
}

export type UserUseCases = ReturnType<typeof userUseCases>;
