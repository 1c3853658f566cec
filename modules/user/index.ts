import type { Kysely } from 'kysely';
import type { Consumer } from '../../platform/bus/types.ts';
import type { ModuleDefinition } from '../../platform/module.ts';
import { parserOf } from '../../platform/schema.ts';
import { ITEM_EVENTS_STREAM, ITEM_EVENTS_SUBJECTS, VISIT_RECORDED, VisitRecorded } from '../item/contract/index.ts';
import { USERS_BUCKET } from './contract/index.ts';
import { userHttp } from './http.ts';
import { migrations } from './migrations.ts';
import { watchPeers } from './peers.ts';
import { allUsers, findUser } from './queries.ts';
import type { UserDatabase } from './schema.ts';
import { serveUsers } from './service.ts';
import { Directory, userUseCases } from './use-cases.ts';

const parseVisit = parserOf(VisitRecorded, 'USER.INVALID');

export const userModule: ModuleDefinition = {
  name: 'user',
  product: 'homeshopping',
  defaultPort: 7001,
  title: 'Homeshopping Moa — user API',
  initSql: await Bun.file(new URL('./init_database.sql', import.meta.url)).text(),
  migrations,
  async start({ db: anyDb, bus, outbox, log }) {
    const db = anyDb as Kysely<UserDatabase>;
    const directory = new Directory();
    const users = await allUsers(db);
    directory.replace(users);
    log.info('users loaded', { users: users.length });

    outbox.snapshotSource(USERS_BUCKET, (tx, key) => findUser(tx as Kysely<UserDatabase>, Number(key)));
    await outbox.publishAll(USERS_BUCKET, async () => users.map((u) => String(u.id)));

    const peers = await watchPeers(bus);
    let visits: Consumer | undefined;
    const useCases = userUseCases({ db, directory, visits: () => visits, itemOf: peers.itemOf, alarmsOf: peers.alarmsOf });
    // The stream belongs to the item domain; declaring it here too lets this consumer start
    // (and visits queue) even when the item service has never run.
    await bus.ensureStream({ name: ITEM_EVENTS_STREAM, subjects: ITEM_EVENTS_SUBJECTS });
    visits = await bus.consume({
      stream: ITEM_EVENTS_STREAM,
      durable: 'user-visits',
      filterSubject: VISIT_RECORDED,
      handler: async (event) => {
        let visit;
        try {
          visit = parseVisit(event.payload);
        } catch (error) {
          // A malformed event will never become valid: acknowledge it and say so.
          log.error('dropped an invalid visit event', { msgId: event.msgId, error });
          return;
        }
        await useCases.recordVisit(visit);
      },
    });
    const service = await serveUsers(bus, directory, useCases);
    return {
      http: userHttp(useCases, directory),
      async stop() {
        await service.stop();
        await visits?.stop();
        await peers.stop();
      },
    };
  },
};
