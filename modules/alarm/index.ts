import { itemsBucket } from '../item/contract/index.ts';
import { usersBucket } from '../user/contract/index.ts';
import { homeshoppingModule } from '../../platform/module.ts';
import { alarmsBucket, type AlarmSet } from './contract/index.ts';
import { alarmHttp } from './http.ts';
import { migrations } from './migrations.ts';
import type { AlarmDatabase } from './schema.ts';
import { serveAlarms, sharedAlarms } from './service.ts';
import { alarmUseCases } from './use-cases.ts';

export const alarmModule = await homeshoppingModule<AlarmDatabase>({
  name: 'alarm',
  defaultPort: 6001,
  initSql: new URL('./init_database.sql', import.meta.url),
  migrations,
  async start({ db, bus, outbox, copyOf }) {
    outbox.share(sharedAlarms());
    const users = await copyOf(usersBucket);
    // The catalog is bounded (the contract's 10,000 items): held whole, it answers every item
    // even while NATS is away.
    const items = await copyOf(itemsBucket, { preload: true });
    const bucket = await bus.bucket(alarmsBucket.bucket);
    const published = async (userId: number) => (await bucket.get(alarmsBucket.key(userId), { fromLeader: true }))?.value as AlarmSet | undefined;
    const useCases = alarmUseCases({ db, outbox, itemOf: (id) => items.get(id), published });
    const service = await serveAlarms(bus, useCases);
    return {
      http: alarmHttp(useCases, (token) => users.get(token)),
      stop: () => service.stop(),
    };
  },
});
