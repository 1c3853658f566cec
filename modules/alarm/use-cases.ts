import type { Kysely } from 'kysely';
import { DomainError, isDatabaseUnavailable } from '../../platform/errors.ts';
import type { Outbox } from '../../platform/data/outbox.ts';
import { unitOfWork } from '../../platform/data/unit-of-work.ts';
import { markLocal } from '../../platform/observability/request-context.ts';
import type { Item } from '../item/contract/index.ts';
import { ALARMS_BUCKET, alarmedItemIds as publishedIds, type AlarmSet } from './contract/index.ts';
import { alarmedItemIds, clearAlarm, setAlarm } from './queries.ts';
import type { AlarmDatabase } from './schema.ts';

export function alarmUseCases(deps: {
  db: Kysely<AlarmDatabase>;
  outbox: Outbox;
  itemOf: (id: number) => Item | undefined | Promise<Item | undefined>;
  /** The user's alarm set as this module last published it (its bucket): when its database is down. */
  published: (userId: number) => Promise<AlarmSet | undefined>;
}) {
  const { db, outbox, itemOf, published } = deps;
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
    // A user's writes go one at a time (they share the user's row of the outbox), and never
    // wait on another user's: an item every user sets an alarm on locks nothing they share.
    // A write that changes nothing (the same alarm set again, a retry after a 503) is settled
    // all the same: an earlier write of the key may not have reached every copy.
    await write(
      async (tx, changes) => {
        await apply(tx, userId, itemId);
        await changes.snapshot(ALARMS_BUCKET, String(userId));
      },
      { one: `alarms:${userId}` },
    );
  }

  /**
   * The user's alarmed item ids, descending: from the database; while it is down, from what the
   * module last published — marked local: a write answered while the bucket had no leader was
   * handed to the copies, and reaches the bucket only when the database is back.
   */
  async function alarmsOf(userId: number): Promise<number[]> {
    try {
      return await alarmedItemIds(db, userId);
    } catch (error) {
      if (!isDatabaseUnavailable(error)) throw error;
      markLocal('own-database-down');
      const set = await published(userId);
      return [...publishedIds(set)].sort((a, b) => b - a);
    }
  }

  return {
    set: (userId: number, itemId: number) => change(userId, itemId, setAlarm),
    clear: (userId: number, itemId: number) => change(userId, itemId, clearAlarm),

    async list(userId: number) {
      const items = (await Promise.all((await alarmsOf(userId)).map(itemOf))).filter((i): i is Item => i !== undefined);
      return { count: items.length, payload: items };
    },

    alarmSetOf: async (userId: number): Promise<AlarmSet> => ({ userId, itemIds: (await alarmedItemIds(db, userId)).reverse() }),
  };
}

export type AlarmUseCases = ReturnType<typeof alarmUseCases>;
