import { alarmedItemIds, alarmsBucket } from '../alarm/contract/index.ts';
import { usersBucket } from '../user/contract/index.ts';
import { homeshoppingModule } from '../../platform/module.ts';
import { Catalog } from './catalog.ts';
import { ITEM_EVENTS_STREAM, ITEM_EVENTS_SUBJECTS } from './contract/index.ts';
import { itemHttp } from './http.ts';
import { migrations } from './migrations.ts';
import { allItems } from './queries.ts';
import type { ItemDatabase } from './schema.ts';
import { serveItems, sharedItems } from './service.ts';
import { itemUseCases } from './use-cases.ts';

export const itemModule = await homeshoppingModule<ItemDatabase>({
  name: 'item',
  defaultPort: 5001,
  initSql: new URL('./init_database.sql', import.meta.url),
  migrations,
  async start({ db, bus, outbox, log, copyOf }) {
    const catalog = new Catalog();
    catalog.replace(await allItems(db));
    log.info('catalog loaded', { items: catalog.size });

    await bus.ensureStream({ name: ITEM_EVENTS_STREAM, subjects: ITEM_EVENTS_SUBJECTS });
    outbox.share(sharedItems());

    const users = await copyOf(usersBucket);
    const alarms = await copyOf(alarmsBucket);
    const service = await serveItems(bus, catalog);
    const useCases = itemUseCases({ db, bus, outbox, catalog, alarmsOf: async (userId) => alarmedItemIds(await alarms.get(userId)), log });
    return {
      http: itemHttp(useCases, catalog, (token) => users.get(token)),
      stop: () => service.stop(),
    };
  },
});
