import type { Kysely } from 'kysely';
import type { ModuleDefinition } from '../../platform/module.ts';
import { Catalog } from './catalog.ts';
import { ITEM_EVENTS_STREAM, ITEM_EVENTS_SUBJECTS, ITEMS_BUCKET } from './contract/index.ts';
import { itemHttp } from './http.ts';
import { migrations } from './migrations.ts';
import { watchPeers } from './peers.ts';
import { allItems, findItem } from './queries.ts';
import type { ItemDatabase } from './schema.ts';
import { serveItems } from './service.ts';
import { itemUseCases } from './use-cases.ts';

export const itemModule: ModuleDefinition = {
  name: 'item',
  product: 'homeshopping',
  defaultPort: 5001,
  title: 'Homeshopping Moa — item API',
  initSql: await Bun.file(new URL('./init_database.sql', import.meta.url)).text(),
  migrations,
  async start({ db: anyDb, bus, outbox, log }) {
    const db = anyDb as Kysely<ItemDatabase>;
    const catalog = new Catalog();
    catalog.replace(await allItems(db));
    log.info('catalog loaded', { items: catalog.size });

    await bus.ensureStream({ name: ITEM_EVENTS_STREAM, subjects: ITEM_EVENTS_SUBJECTS });
    outbox.snapshotSource(ITEMS_BUCKET, (tx, key) => findItem(tx as Kysely<ItemDatabase>, Number(key)));
    // Publish every item at start and after a reconnect: the bucket converges on this database
    // even if NATS lost it.
    await outbox.publishAll(ITEMS_BUCKET, async () => catalog.keys());

    const peers = await watchPeers(bus);
    const service = await serveItems(bus, catalog);
    const useCases = itemUseCases({ db, bus, outbox, catalog, alarmsOf: peers.alarmsOf, log });
    return {
      http: itemHttp(useCases, peers.authenticate),
      async stop() {
        await service.stop();
        await peers.stop();
      },
    };
  },
};
