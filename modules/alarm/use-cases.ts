import type { Kysely } from 'kysely';
import { DomainError } from '../../platform/errors.ts';
import type { Outbox } from '../../platform/data/outbox.ts';
import { unitOfWork } from '../../platform/data/unit-of-work.ts';
import type { Item } from '../item/contract/index.ts';
import { ALARMS_BUCKET, type AlarmSet } from './contract/index.ts';
import { alarmedItemIds, clearAlarm, setAlarm } from './queries.ts';
import type { AlarmDatabase } from './schema.ts';

export function alarmUseCases(deps: {
  db: Kysely<AlarmDatabase>;
  outbox: Outbox;
  itemOf: (id: number) => Item | undefined | Promise<Item | undefined>;
}) {
  const { db, outbox, itemOf } = deps;
  const write = unitOfWork(db, outbox);

  async function requireItem(itemId: number) {
    if (!(await itemOf(itemId))) throw new DomainError('ALARM.NOT_FOUND', `no item ${itemId}`);
  }

  /**
   * Changes the alarm and records that the user's alarm set changed, in one unit of work: it
   * answers once every copy of the set elsewhere has dropped the old one, so the user's next
   * `GET /` on the item service shows the change.
   */
  async function change(userId: number, itemId: number, apply: typeof setAlarm) {
    await requireItem(itemId);
    await write(async (tx, changes) => {
      if (await apply(tx, userId, itemId)) await changes.snapshot(ALARMS_BUCKET, String(userId));
    });
  }

  return {
    set: (userId: number, itemId: number) => change(userId, itemId, setAlarm),
    clear: (userId: number, itemId: number) => change(userId, itemId, clearAlarm),

    async list(userId: number) {
      const items = (await Promise.all((await alarmedItemIds(db, userId)).map(itemOf))).filter((i): i is Item => i !== undefined);
      return { count: items.length, payload: items };
    },

    alarmSetOf: async (userId: number): Promise<AlarmSet> => ({ userId, itemIds: (await alarmedItemIds(db, userId)).reverse() }),
  };
}

export type AlarmUseCases = ReturnType<typeof alarmUseCases>;
