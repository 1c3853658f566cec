import type { Kysely } from 'kysely';
import { endpoint, serve, type Bus } from '../../platform/bus/index.ts';
import { DomainError } from '../../platform/errors.ts';
import { pageOf, valuesOf, type SharedBucket } from '../../platform/data/snapshot.ts';
import { tokenKey, USERS_BUCKET, userRequests } from './contract/index.ts';
import { userByToken, usersAfter, usersByKeys } from './queries.ts';
import type { UserDatabase } from './schema.ts';
import type { UserUseCases } from './use-cases.ts';

/** The user domain on the bus: the same database and use cases as its HTTP routes. */
export function serveUsers(bus: Bus, db: Kysely<UserDatabase>, useCases: UserUseCases) {
  return serve(bus, { name: 'user', version: '1.0.0', description: 'Homeshopping users and their recent visits (owner of the users bucket)' }, [
    endpoint(userRequests.authenticate, async ({ token }) => {
      const user = await userByToken(db, token);
      if (!user) throw new DomainError('USER.UNAUTHORIZED', 'USER-TOKEN is not a known access token');
      return user;
    }),
    endpoint(userRequests.recentVisits, async ({ userId }) => ({ itemIds: await useCases.recentItemIds(userId) })),
  ]);
}

/** The users bucket from the user database: key = tokenKey(access_token). */
export function sharedUsers(): SharedBucket {
  return {
    bucket: USERS_BUCKET,
    page: async (db, after, limit) =>
      pageOf(await usersAfter(db as Kysely<UserDatabase>, Number(after ?? 0), limit), limit, (u) => tokenKey(u.access_token), (u) => String(u.id)),
    values: async (db, keys) => valuesOf(keys, [...(await usersByKeys(db as Kysely<UserDatabase>, keys)).values()], (u) => tokenKey(u.access_token)),
  };
}
