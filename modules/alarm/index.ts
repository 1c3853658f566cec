import type { Kysely } from 'kysely';
import type { ModuleDefinition } from '../../platform/module.ts';
import { ALARMS_BUCKET } from './contract/index.ts';
import { alarmHttp } from './http.ts';
import { migrations } from './migrations.ts';
import { watchPeers } from './peers.ts';
import { usersWithAlarms } from './queries.ts';
import type { AlarmDatabase } from './schema.ts';
import { serveAlarms } from './service.ts';
import { alarmUseCases } from './use-cases.ts';

export const alarmModule: ModuleDefinition = {
  name: 'alarm',
  product: 'homeshopping',
  defaultPort: 6001,
  title: 'Homeshopping Moa — alarm API',
  initSql: await Bun.file(new URL('./init_database.sql', import.meta.url)).text(),
  migrations,
  async start({ db: anyDb, bus, outbox }) {
    const db = anyDb as Kysely<AlarmDatabase>;
    const peers = await watchPeers(bus);
    const useCases = alarmUseCases({ db, outbox, itemOf: peers.itemOf });

    outbox.snapshotSource(ALARMS_BUCKET, async (tx, key) => {
      const set = await useCases.alarmSetOf(Number(key));
      return set.itemIds.length > 0 ? set : null;
    });
    // Publish every user's alarm set at start, and clear keys the database no longer backs:
    // the bucket converges on this database even if it was lost or is stale.
    // Keys the bucket holds but the database no longer backs are cleared (the relay reads null).
    const stale = await (await bus.bucket(ALARMS_BUCKET)).keys().catch(() => [] as string[]);
    await outbox.snapshot(db, ALARMS_BUCKET, stale);
    await outbox.publishAll(ALARMS_BUCKET, async () => (await usersWithAlarms(db)).map(String));

    const service = await serveAlarms(bus, useCases);
    return {
      http: alarmHttp(useCases, peers.authenticate),
      async stop() {
        await service.stop();
        await peers.stop();
      },
    };
  },
};
