import type { Kysely } from 'kysely';
import { DomainError } from '../../platform/errors.ts';
import type { Outbox } from '../../platform/outbox.ts';
import type { Item } from '../item/contract/index.ts';
import { ALARMS_BUCKET } from './contract/index.ts';
import { alarmedItemIds, clearAlarm, setAlarm } from './queries.ts';
import type { AlarmDatabase } from './schema.ts';

export function alarmUseCases(deps: {
  db: Kysely<AlarmDatabase>;
  outbox: Outbox;
  itemOf: (id: number) => Promise<Item | undefined>;
}) {
  const { db, outbox, itemOf } = deps;

  async function requireItem(itemId: number) {
    if (!(await itemOf(itemId))) throw new DomainError('ALARM.NOT_FOUND', `no item ${itemId}`);
  }

  /**
   * Changes the alarm and records the user's new alarm set in the outbox, in one transaction;
   * then relays it at once (bounded) so the other domains' copies have it before the response:
   * read-your-writes for the user who pressed the button. If the bus is down the write still
   * stands and the relay catches up later.
   */
  async function change(userId: number, itemId: number, write: typeof setAlarm) {
    await requireItem(itemId);
    await db.transaction().execute(async (tx) => {
      if (await write(tx, userId, itemId)) await outbox.snapshot(tx, ALARMS_BUCKET, String(userId));
    });
    await outbox.flush(1000);
  }

  return {
    set: (userId: number, itemId: number) => change(userId, itemId, setAlarm),
    clear: (userId: number, itemId: number) => change(userId, itemId, clearAlarm),

    async list(userId: number) {
      const items = (await Promise.all((await alarmedItemIds(db, userId)).map(itemOf))).filter((i): i is Item => i !== undefined);
      return { count: items.length, payload: items };
    },

    alarmSetOf: async (userId: number) => ({ userId, itemIds: (await alarmedItemIds(db, userId)).reverse() }),
  };
}

export type AlarmUseCases = ReturnType<typeof alarmUseCases>;
