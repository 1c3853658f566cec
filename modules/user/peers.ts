import { ALARMS_BUCKET, AlarmSet, alarmSubjects } from '../alarm/contract/index.ts';
import { ITEMS_BUCKET, Item, itemSubjects } from '../item/contract/index.ts';
import type { Bus, Replica } from '../../platform/bus/types.ts';
import { DomainError } from '../../platform/errors.ts';
import { parserOf } from '../../platform/schema.ts';

const parseItem = parserOf(Item);
const parseAlarmSet = parserOf(AlarmSet);

/** What the user domain knows of items and alarms: local copies, owners as a fallback. */
export async function watchPeers(bus: Bus) {
  const items: Replica<Item> = await bus.replica(ITEMS_BUCKET, { parse: parseItem });
  const alarms: Replica<AlarmSet & { set: ReadonlySet<number> }> = await bus.replica(ALARMS_BUCKET, {
    parse: (v) => {
      const a = parseAlarmSet(v);
      return { ...a, set: new Set(a.itemIds) };
    },
  });

  return {
    /** An item's fields; undefined for an item that does not exist (any more). */
    async itemOf(id: number): Promise<Item | undefined> {
      const held = items.get(String(id));
      if (held) return held;
      try {
        return parseItem(await bus.request(itemSubjects.get, { id }, { timeoutMs: 500 }));
      } catch (error) {
        if (error instanceof DomainError && error.kind === 'NOT_FOUND') return undefined;
        throw error;
      }
    },
    /** The user's alarm set, from the copy (every acknowledged alarm write is in it). */
    async alarmsOf(userId: number): Promise<ReadonlySet<number>> {
      if (alarms.ready) return alarms.get(String(userId))?.set ?? new Set();
      return new Set(parseAlarmSet(await bus.request(alarmSubjects.ofUser, { userId }, { timeoutMs: 500 })).itemIds);
    },
    stop: async () => {
      await items.stop();
      await alarms.stop();
    },
  };
}
