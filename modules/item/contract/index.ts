/**
 * The item domain's public contract: what other modules may know of items.
 * Item data is shared through the `items` snapshot bucket; visits are events on ITEM_EVENTS.
 */
import { Type, type Static } from '@sinclair/typebox';

/** An item as the contract shows it. `category` may be null. */
export const Item = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  name: Type.String(),
  broadcaster: Type.String(),
  category: Type.Union([Type.String(), Type.Null()]),
  price: Type.Integer(),
});
export type Item = Static<typeof Item>;

/** Snapshot bucket: key = item id, value = Item. Owner: item. */
export const ITEMS_BUCKET = 'items';

/** Request/reply subjects served by the item service (NATS micro service `item`). */
export const itemSubjects = {
  /** `{id}` → Item, or error ITEM.NOT_FOUND. */
  get: 'item.get',
  /** `{}` → Item[] in id descending order. */
  list: 'item.list',
} as const;

export const ItemGetRequest = Type.Object({ id: Type.Integer({ minimum: 1 }) });
export type ItemGetRequest = Static<typeof ItemGetRequest>;

/** Stream of the item domain's events. Owner: item. */
export const ITEM_EVENTS_STREAM = 'ITEM_EVENTS';
export const ITEM_EVENTS_SUBJECTS = ['events.item.>'];

/** A user looked at an item's detail page. Consumed by the user domain (recent visits). */
export const VISIT_RECORDED = 'events.item.visited';
export const VisitRecorded = Type.Object({
  /** UUIDv7: unique (idempotent consumers) and time-ordered (visit order). */
  visitId: Type.String({ minLength: 36, maxLength: 36 }),
  userId: Type.Integer({ minimum: 1 }),
  itemId: Type.Integer({ minimum: 1 }),
  /** ISO timestamp of the visit. */
  at: Type.String(),
});
export type VisitRecorded = Static<typeof VisitRecorded>;
