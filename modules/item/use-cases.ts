import type { Kysely } from 'kysely';
import type { Bus } from '../../platform/bus/types.ts';
import { databaseError, DomainError, isUnavailable } from '../../platform/errors.ts';
import { markLocal } from '../../platform/observability/request-context.ts';
import type { Logger } from '../../platform/observability/log.ts';
import type { Outbox } from '../../platform/data/outbox.ts';
import type { Catalog } from './catalog.ts';
import { VISIT_RECORDED, type Item, type VisitRecorded, type VisitsRecorded } from './contract/index.ts';
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
  const publishVisit = visitPublisher(bus);

  /**
   * A visit is durable once one of two stores has it:
   *
   * - over NATS, the ITEM_EVENTS stream: a publish JetStream acknowledged (with the visit's id as
   *   message id, so a second publish of it is dropped) is stored — by every replica the stream
   *   has — and reaches the user domain with no database round trip here. This is the hot path:
   *   concurrent views' publishes share the connection, pipelined;
   * - when NATS cannot take it (down, slow, no stream) — and always in process, where the bus
   *   keeps nothing across a restart — the outbox of the item database, relayed when it can be.
   *
   * Only when both fail is the view refused (503): a 200 never loses a visit.
   */
  async function recordVisit(visit: VisitRecorded) {
    const direct = bus.kind === 'nats';
    if (direct && bus.connected) {
      try {
        await publishVisit(visit);
        return;
      } catch (error) {
        log.warn('the stream did not take a visit; keeping it in the outbox', { visitId: visit.visitId, error: error as Error });
      }
    }
    try {
      await outbox.event(db, VISIT_RECORDED, visit, visit.visitId);
    } catch (error) {
      const mapped = databaseError(error);
      if (!(mapped instanceof DomainError)) throw error;
      if (direct) throw new DomainError('ITEM.UNAVAILABLE', 'cannot record the visit: the item database and the bus are both unavailable');
      log.warn('item database unavailable; publishing the visit directly', { visitId: visit.visitId });
      try {
        await bus.publish(VISIT_RECORDED, visit, { msgId: visit.visitId });
        return;
      } catch (busError) {
        if (isUnavailable(busError)) throw new DomainError('ITEM.UNAVAILABLE', 'cannot record the visit: the item database and the bus are both unavailable');
        throw busError;
      }
    }
    // Best effort, bounded: publish now so that /visit right after shows it; when that cannot be
    // done, the answer says so (X-Consistency: local): /visit shows it once NATS takes it.
    const relayed = await outbox.flush(VISIT_RELAY_BUDGET_MS);
    if (relayed !== 'done') markLocal('visit-not-shared');
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

/** How long a view waits for the stream before it keeps its visit in the outbox. */
const VISIT_PUBLISH_BUDGET_MS = 500;
/** How long it then waits for the outbox's relay to publish it (`X-Consistency: local` if not). */
const VISIT_RELAY_BUDGET_MS = 300;
/** Visits published together at most (one message of some 130 bytes a visit). */
const MAX_VISITS_PER_EVENT = 256;
/**
 * Publishes under way at once; the visits of views that come meanwhile wait for the next one.
 * One measured best (bench/item-visit.ts: 0.38 of raw against 0.24 with two and 0.29 with four):
 * the fewer the messages, the less NATS and both processes spend per visit.
 */
const MAX_PUBLISHES_IN_FLIGHT = 1;

/**
 * Group commit on the stream: a visit is published at once when no publish is under way; otherwise it waits for one to end and goes
 * out with every visit that came meanwhile, as one event (VisitsRecorded). Each caller is
 * answered when the event holding its visit is acknowledged (stored), or fails with it. Under
 * load, one message and one acknowledgement carry dozens of visits; alone, a visit waits for
 * nothing.
 */
export function visitPublisher(bus: Bus): (visit: VisitRecorded) => Promise<void> {
  const waiting: { visit: VisitRecorded; resolve: () => void; reject: (error: unknown) => void }[] = [];
  let inFlight = 0;
  const pump = () => {
    while (inFlight < MAX_PUBLISHES_IN_FLIGHT && waiting.length > 0) {
      const batch = waiting.splice(0, MAX_VISITS_PER_EVENT);
      inFlight++;
      // One visit alone is the plain event, its id the message id; several, one event of their own.
      const sent =
        batch.length === 1
          ? bus.publish(VISIT_RECORDED, batch[0]!.visit, { msgId: batch[0]!.visit.visitId })
          : bus.publish(VISIT_RECORDED, { visits: batch.map((w) => w.visit) } satisfies VisitsRecorded, { msgId: Bun.randomUUIDv7() });
      void sent.then(
        () => batch.forEach((w) => w.resolve()),
        (error) => batch.forEach((w) => w.reject(error)),
      ).finally(() => {
        inFlight--;
        pump();
      });
    }
  };
  return (visit) =>
    new Promise<void>((resolve, reject) => {
      // A stream that does not answer (a leader election, a slow NATS) must not hold the view:
      // after VISIT_PUBLISH_BUDGET_MS the caller keeps the visit in the outbox instead. Should the
      // event still be stored, the visit is there twice under one id: the user stores it once.
      const timer = setTimeout(() => {
        const i = waiting.indexOf(entry);
        if (i >= 0) waiting.splice(i, 1);
        reject(new DomainError('BUS.TIMEOUT', `the stream did not acknowledge a visit within ${VISIT_PUBLISH_BUDGET_MS} ms`));
      }, VISIT_PUBLISH_BUDGET_MS);
      const entry = {
        visit,
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (error: unknown) => (clearTimeout(timer), reject(error)),
      };
      waiting.push(entry);
      pump();
    });
}
