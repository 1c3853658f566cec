import type { Kysely } from 'kysely';
import { alarmsBucket } from '../alarm/contract/index.ts';
import { usersBucket } from '../user/contract/index.ts';
import type { ModuleDefinition } from '../../platform/module.ts';
import { Catalog } from './catalog.ts';
import { ITEM_EVENTS_STREAM, ITEM_EVENTS_SUBJECTS } from './contract/index.ts';
import { itemHttp } from './http.ts';
import { migrations } from './migrations.ts';
import { allItems } from './queries.ts';
import type { ItemDatabase } from './schema.ts';
import { serveItems, sharedItems } from './service.ts';
import { itemUseCases } from './use-cases.ts';

const NO_ALARMS: readonly number[] = [];

export const itemModule: ModuleDefinition = {
  name: 'item',
  product: 'homeshopping',
  defaultPort: 5001,
  title: 'Homeshopping Moa — item API',
  initSql: await Bun.file(new URL('./init_database.sql', import.meta.url)).text(),
  migrations,
  async start({ db: anyDb, bus, outbox, log, copyOf }) {
    const db = anyDb as Kysely<ItemDatabase>;
    const catalog = new Catalog();
    catalog.replace(await allItems(db));
    log.info('catalog loaded', { items: catalog.size });

    await bus.ensureStream({ name: ITEM_EVENTS_STREAM, subjects: ITEM_EVENTS_SUBJECTS });
    outbox.share(sharedItems());

    const users = await copyOf(usersBucket);
    const alarms = await copyOf(alarmsBucket);
    const service = await serveItems(bus, catalog);
    const useCases = itemUseCases({ db, bus, outbox, catalog, alarmsOf: async (userId) => (await alarms.get(userId))?.itemIds ?? NO_ALARMS, log });
    return {
      http: itemHttp(useCases, catalog, (token) => users.get(token)),
      stop: () => service.stop(),
    };
  },
};
