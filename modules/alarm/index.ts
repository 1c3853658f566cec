import type { Kysely } from 'kysely';
import { itemsBucket } from '../item/contract/index.ts';
import { usersBucket } from '../user/contract/index.ts';
import type { ModuleDefinition } from '../../platform/module.ts';
import { alarmHttp } from './http.ts';
import { migrations } from './migrations.ts';
import type { AlarmDatabase } from './schema.ts';
import { serveAlarms, sharedAlarms } from './service.ts';
import { alarmUseCases } from './use-cases.ts';

export const alarmModule: ModuleDefinition = {
  name: 'alarm',
  product: 'homeshopping',
  defaultPort: 6001,
  title: 'Homeshopping Moa — alarm API',
  initSql: await Bun.file(new URL('./init_database.sql', import.meta.url)).text(),
  migrations,
  async start({ db: anyDb, bus, outbox, copyOf }) {
    const db = anyDb as Kysely<AlarmDatabase>;
    outbox.share(sharedAlarms());
    const users = await copyOf(usersBucket);
    // The catalog is bounded (the contract's 10,000 items): held whole, it answers every item
    // even while NATS is away.
    const items = await copyOf(itemsBucket, { preload: true });
    const useCases = alarmUseCases({ db, outbox, itemOf: (id) => items.get(id) });
    const service = await serveAlarms(bus, useCases);
    return {
      http: alarmHttp(useCases, (token) => users.get(token)),
      stop: () => service.stop(),
    };
  },
};
