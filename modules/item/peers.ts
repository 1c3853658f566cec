import { ALARMS_BUCKET, AlarmSet, alarmSubjects } from '../alarm/contract/index.ts';
import { USERS_BUCKET, User, byToken, userSubjects } from '../user/contract/index.ts';
import type { Bus, Replica } from '../../platform/bus/types.ts';
import { DomainError, isUnavailable } from '../../platform/errors.ts';
import { parserOf } from '../../platform/schema.ts';

type Alarms = AlarmSet & { set: ReadonlySet<number> };
const parseUser = parserOf(User);
const parseAlarmSet = parserOf(AlarmSet);

/**
 * What the item domain knows of other domains: local copies of the user and alarm snapshots,
 * and the owners' services for when a copy cannot answer.
 */
export async function watchPeers(bus: Bus) {
  const users: Replica<User> = await bus.replica(USERS_BUCKET, { parse: parseUser, indexes: { token: byToken } });
  const alarms: Replica<Alarms> = await bus.replica(ALARMS_BUCKET, {
    parse: (v) => {
      const a = parseAlarmSet(v);
      return { ...a, set: new Set(a.itemIds) };
    },
  });

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
          throw new DomainError('ITEM.UNAUTHORIZED', 'USER-TOKEN is not a known access token');
        }
        throw error;
      });
    },
    /**
     * The items the user has an alarm on, from the copy. An alarm write is answered only once
     * every copy has applied it, so the copy already shows what the user has just set.
     */
    async alarmsOf(userId: number): Promise<ReadonlySet<number>> {
      if (alarms.ready) return alarms.get(String(userId))?.set ?? new Set();
      const a = parseAlarmSet(await bus.request(alarmSubjects.ofUser, { userId }, { timeoutMs: 500 }));
      return new Set(a.itemIds);
    },
    stop: async () => {
      await users.stop();
      await alarms.stop();
    },
  };
}
