import type { Kysely } from 'kysely';
import { endpoint, serve, type Bus } from '../../platform/bus/index.ts';
import { DomainError } from '../../platform/errors.ts';
import { pageOf, valuesOf, type SharedBucket } from '../../platform/data/snapshot.ts';
import type { Catalog } from './catalog.ts';
import { ITEMS_BUCKET, itemRequests } from './contract/index.ts';
import { itemsAfter, itemsByIds } from './queries.ts';
import type { ItemDatabase } from './schema.ts';

/** The item domain on the bus: the same catalog the HTTP routes read. */
export function serveItems(bus: Bus, catalog: Catalog) {
  return serve(bus, { name: 'item', version: '1.0.0', description: 'Homeshopping items (owner of the items bucket and the ITEM_EVENTS stream)' }, [
    endpoint(itemRequests.get, async ({ id }) => {
      const item = catalog.get(id);
      if (!item) throw new DomainError('ITEM.NOT_FOUND', `no item ${id}`);
      return item;
    }),
    endpoint(itemRequests.list, async ({ before, limit }) => catalog.page(before, limit ?? 100)),
  ]);
}

const keyOf = (item: { id: number }) => String(item.id);

/** The items bucket from the item database: key = id. */
export function sharedItems(): SharedBucket {
  return {
    bucket: ITEMS_BUCKET,
    page: async (db, after, limit) => pageOf(await itemsAfter(db as Kysely<ItemDatabase>, Number(after ?? 0), limit), limit, keyOf),
    values: async (db, keys) => valuesOf(keys, await itemsByIds(db as Kysely<ItemDatabase>, keys.map(Number).filter((id) => Number.isSafeInteger(id) && id > 0)), keyOf),
  };
}
