import { ITEMS_BUCKET, Item, itemSubjects } from '../item/contract/index.ts';
import { USERS_BUCKET, User, byToken, userSubjects } from '../user/contract/index.ts';
import type { Bus, Replica } from '../../platform/bus/types.ts';
import { DomainError, isUnavailable } from '../../platform/errors.ts';
import { parserOf } from '../../platform/schema.ts';

const parseItem = parserOf(Item);
const parseUser = parserOf(User);

/** What the alarm domain knows of users and items: local copies, owners as a fallback. */
export async function watchPeers(bus: Bus) {
  const users: Replica<User> = await bus.replica(USERS_BUCKET, { parse: parseUser, indexes: { token: byToken } });
  const items: Replica<Item> = await bus.replica(ITEMS_BUCKET, { parse: parseItem });

  return {
    /**
     * The caller behind a USER-TOKEN, from the copy. A token the copy does not hold is checked
     * with the user service (the copy may still be warming up); when that service is down, the
     * copy's word is final.
     */
    authenticate(token: string): User | Promise<User> {
      const user = users.findBy('token', token);
      if (user) return user;
      return bus.request(userSubjects.authenticate, { token }, { timeoutMs: 500 }).then(parseUser, (error) => {
        if (isUnavailable(error) && users.ready && users.size > 0) {
          throw new DomainError('ALARM.UNAUTHORIZED', 'USER-TOKEN is not a known access token');
        }
        throw error;
      });
    },
    /**
     * An item's fields; undefined when it does not exist. From the copy when it holds the item
     * (or holds the whole catalog); otherwise the item service decides.
     */
    async itemOf(id: number): Promise<Item | undefined> {
      const held = items.get(String(id));
      if (held) return held;
      try {
        return parseItem(await bus.request(itemSubjects.get, { id }, { timeoutMs: 500 }));
      } catch (error) {
        if (error instanceof DomainError && error.kind === 'NOT_FOUND') return undefined;
        // The item service is down: an item the warm copy never saw does not exist.
        if (items.ready && items.size > 0) return undefined;
        throw error;
      }
    },
    stop: async () => {
      await users.stop();
      await items.stop();
    },
  };
}
