import type { Consumer } from '../../platform/bus/index.ts';
import { homeshoppingModule } from '../../platform/module.ts';
import { parserOf } from '../../platform/bus/schema.ts';
import { alarmedItemIds, alarmsBucket } from '../alarm/contract/index.ts';
import { ITEM_EVENTS_STREAM, ITEM_EVENTS_SUBJECTS, itemsBucket, VISIT_RECORDED, VisitsRecorded, visitsIn, type VisitRecorded } from '../item/contract/index.ts';
import { usersBucket } from './contract/index.ts';
import { userHttp } from './http.ts';
import { migrations } from './migrations.ts';
import type { UserDatabase } from './schema.ts';
import { serveUsers, sharedUsers } from './service.ts';
import { userUseCases } from './use-cases.ts';

const parseVisits = parserOf(VisitsRecorded, 'USER.INVALID');

export const userModule = await homeshoppingModule<UserDatabase>({
  name: 'user',
  defaultPort: 7001,
  initSql: new URL('./init_database.sql', import.meta.url),
  migrations,
  async start({ db, bus, outbox, log, copyOf }) {
    outbox.share(sharedUsers());

    // Callers are told apart the way the other services do it: by the users bucket (which this
    // module fills; while it does, the bucket's copy asks this module's own service).
    const users = await copyOf(usersBucket);
    // The catalog is bounded (the contract's 10,000 items): held whole, it answers every item
    // even while NATS is away.
    const items = await copyOf(itemsBucket, { preload: true });
    const alarms = await copyOf(alarmsBucket);
    let visits: Consumer | undefined;
    const visitsOf = (event: { payload: unknown; msgId: string }): VisitRecorded[] => {
      try {
        return visitsIn(parseVisits(event.payload));
      } catch (error) {
        // A malformed event will never become valid: acknowledge it and say so.
        log.error('dropped an invalid visit event', { msgId: event.msgId, error });
        return [];
      }
    };
    const useCases = userUseCases({
      db,
      visits: () => visits,
      itemOf: (id) => items.get(id),
      alarmsOf: async (userId) => alarmedItemIds(await alarms.get(userId)),
    });
    // The stream belongs to the item domain; declaring it here too lets this consumer start
    // (and visits queue) even when the item service has never run.
    await bus.ensureStream({ name: ITEM_EVENTS_STREAM, subjects: ITEM_EVENTS_SUBJECTS });
    visits = await bus.consume({
      stream: ITEM_EVENTS_STREAM,
      durable: 'user-visits',
      filterSubject: VISIT_RECORDED,
      handler: (event) => useCases.recordVisits(visitsOf(event)),
      // What arrived together goes in with one INSERT (the order of visits is their ids').
      handleBatch: (events) => useCases.recordVisits(events.flatMap(visitsOf)),
    });
    const service = await serveUsers(bus, db, useCases);
    return {
      http: userHttp(useCases, (token) => users.get(token)),
      async stop() {
        await service.stop();
        await visits?.stop();
      },
    };
  },
});
