import type { Kysely } from 'kysely';
import { endpoint, serve, type Bus } from '../../platform/bus/index.ts';
import { pageOf, valuesOf, type SharedBucket } from '../../platform/data/snapshot.ts';
import { ALARMS_BUCKET, alarmRequests, type AlarmSet } from './contract/index.ts';

const keyOf = (set: AlarmSet) => String(set.userId);
import { alarmSets } from './queries.ts';
import type { AlarmDatabase } from './schema.ts';
import type { AlarmUseCases } from './use-cases.ts';

/** The alarm domain on the bus. */
export function serveAlarms(bus: Bus, useCases: AlarmUseCases) {
  return serve(bus, { name: 'alarm', version: '1.0.0', description: 'Homeshopping alarms (owner of the alarms bucket)' }, [
    endpoint(alarmRequests.ofUser, ({ userId }) => useCases.alarmSetOf(userId)),
  ]);
}

/** The alarms bucket from the alarm database: key = user id; a user without alarms has no key. */
export function sharedAlarms(): SharedBucket {
  return {
    bucket: ALARMS_BUCKET,
    page: async (db, after, limit) => pageOf(await alarmSets(db as Kysely<AlarmDatabase>, { after: Number(after ?? 0), limit }), limit, keyOf),
    values: async (db, keys) =>
      valuesOf(keys, await alarmSets(db as Kysely<AlarmDatabase>, { userIds: keys.map(Number).filter((id) => Number.isInteger(id) && id > 0 && id <= 2147483647) }), keyOf),
  };
}
