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

export const ItemGetRequest = Type.Object({ id: Type.Integer({ minimum: 1 }) });
/** A page of the catalog: ids below `before` (none: from the top), at most `limit`. */
export const ItemListRequest = Type.Object({
  before: Type.Optional(Type.Integer({ minimum: 1 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
});
export const ItemPage = Type.Object({
  items: Type.Array(Item),
  /** `before` of the next page; null after the last. */
  next: Type.Union([Type.Integer(), Type.Null()]),
});
export type ItemPage = Static<typeof ItemPage>;

/** Request/reply subjects served by the item service (NATS micro service `item`). */
export const itemRequests = {
  get: { subject: 'item.get', request: ItemGetRequest, reply: Item, description: 'One item, or ITEM.NOT_FOUND' },
  list: {
    subject: 'item.list',
    request: ItemListRequest,
    reply: ItemPage,
    description: 'The catalog in pages, id descending (limit 1 to 500, default 100)',
  },
} as const;

/** The items bucket as copies read it: by id; the item service answers while it fills. */
export const itemsBucket = {
  bucket: ITEMS_BUCKET,
  value: Item,
  key: (id: number) => String(id),
  owner: { request: itemRequests.get, payload: (id: number) => ({ id }) },
};

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

/**
 * What an event on VISIT_RECORDED holds: one visit, or several made at about the same time
 * (the item service publishes the visits of concurrent views together: one message, one
 * acknowledgement). A consumer handles each visit of it as it would a single one.
 */
export const VisitsRecorded = Type.Union([VisitRecorded, Type.Object({ visits: Type.Array(VisitRecorded, { minItems: 1 }) })]);
export type VisitsRecorded = Static<typeof VisitsRecorded>;
/** The visits an event on VISIT_RECORDED carries. */
export const visitsIn = (event: VisitsRecorded): VisitRecorded[] => ('visits' in event ? event.visits : [event]);
