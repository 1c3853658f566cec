import type { Bus } from '../../platform/bus/types.ts';
import { DomainError } from '../../platform/errors.ts';
import { parserOf } from '../../platform/schema.ts';
import type { Catalog } from './catalog.ts';
import { ItemGetRequest, itemSubjects } from './contract/index.ts';

const parseGet = parserOf(ItemGetRequest, 'ITEM.INVALID');

/** The item domain on the bus: the same catalog the HTTP routes read. */
export function serveItems(bus: Bus, catalog: Catalog) {
  return bus.addService({
    name: 'item',
    version: '1.0.0',
    description: 'Homeshopping items (owner of the items bucket and the ITEM_EVENTS stream)',
    endpoints: [
      {
        name: 'get',
        subject: itemSubjects.get,
        handler: async (payload) => {
          const { id } = parseGet(payload);
          const item = catalog.get(id);
          if (!item) throw new DomainError('ITEM.NOT_FOUND', `no item ${id}`);
          return item;
        },
      },
      {
        name: 'list',
        subject: itemSubjects.list,
        handler: async () => JSON.parse(catalog.listJson(undefined)).payload,
      },
    ],
  });
}
