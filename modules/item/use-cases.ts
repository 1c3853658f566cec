import type { Kysely } from 'kysely';
import type { Bus } from '../../platform/bus/types.ts';
import { DomainError, isUnavailable } from '../../platform/errors.ts';
import type { Logger } from '../../platform/observability/log.ts';
import type { Outbox } from '../../platform/data/outbox.ts';
import { databaseError } from '../../platform/data/db.ts';
import type { Catalog } from './catalog.ts';
import { VISIT_RECORDED, type Item, type VisitRecorded } from './contract/index.ts';
import type { ItemDatabase } from './schema.ts';

/** Every item (the catalog) with the user's alarm state: the ids of the items the user set alarms on. */
export interface ItemsWithAlarms {
  alarmed: readonly number[];
}

/** One item with the user's alarm state. */
export interface ViewedItem {
  item: Item;
  isAlarmSet: boolean;
}

export interface ItemUseCases {
  /** Every item, id descending, with the user's alarm state. */
  listItems(userId: number): Promise<ItemsWithAlarms>;
  /** One item with the user's alarm state; records the visit. */
  viewItem(userId: number, itemId: number): Promise<ViewedItem>;
}

export function itemUseCases(deps: {
  db: Kysely<ItemDatabase>;
  bus: Bus;
  outbox: Outbox;
  catalog: Catalog;
  /** The item ids of the user's alarms (a handful: a list reads as fast as a set). */
  alarmsOf: (userId: number) => Promise<readonly number[]>;
  log: Logger;
}): ItemUseCases {
  const { db, bus, outbox, catalog, alarmsOf, log } = deps;

  /**
   * A visit goes to the outbox of the item database (durable, relayed to ITEM_EVENTS). If that
   * database is down the visit is published straight to the stream, which is durable once it
   * acknowledges. Only when both fail is the view refused (503): a 200 never loses a visit.
   */
  async function recordVisit(visit: VisitRecorded) {
    try {
      await outbox.event(db, VISIT_RECORDED, visit, visit.visitId);
    } catch (error) {
      const mapped = databaseError(error);
      if (!(mapped instanceof DomainError)) throw error;
      log.warn('item database unavailable; publishing the visit directly', { visitId: visit.visitId });
      try {
        await bus.publish(VISIT_RECORDED, visit, { msgId: visit.visitId });
        return;
      } catch (busError) {
        if (isUnavailable(busError)) throw new DomainError('ITEM.UNAVAILABLE', 'cannot record the visit: the item database and the bus are both unavailable');
        throw busError;
      }
    }
    // Best effort, bounded: publish now so that /visit right after shows it.
    await outbox.flush(500);
  }

  return {
    async listItems(userId) {
      return { alarmed: await alarmsOf(userId) };
    },
    async viewItem(userId, itemId) {
      const item = catalog.get(itemId);
      if (!item) throw new DomainError('ITEM.NOT_FOUND', `no item ${itemId}`);
      const [alarmed] = await Promise.all([alarmsOf(userId), recordVisit({ visitId: Bun.randomUUIDv7(), userId, itemId, at: new Date().toISOString() })]);
      return { item, isAlarmSet: alarmed.includes(itemId) };
    },
  };
}
