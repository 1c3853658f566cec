import type { Kysely } from 'kysely';
import { endpoint, serve, type Bus } from '../../platform/bus/index.ts';
import { DomainError } from '../../platform/errors.ts';
import { pageOf, valuesOf, type SharedBucket } from '../../platform/data/snapshot.ts';
import { accountKey, accountRequests, ACCOUNTS_BUCKET, idOfAccountKey } from './contract/index.ts';
import { accountsAfter, accountsByIds, snapshotOf } from './queries.ts';
import type { AccountDatabase } from './schema.ts';
import type { AccountUseCases } from './use-cases.ts';

/** The account domain on the bus: the same use cases as its HTTP routes. */
export function serveAccounts(bus: Bus, useCases: AccountUseCases) {
  return serve(bus, { name: 'account', version: '1.0.0', description: 'minifb accounts (owner of the accounts bucket)' }, [
    endpoint(accountRequests.get, async ({ id }) => {
      const account = await useCases.snapshot(id);
      if (!account) throw new DomainError('ACCOUNT.NOT_FOUND', `no user ${id}`);
      return account;
    }),
    endpoint(accountRequests.totals, () => useCases.totals()),
  ]);
}

const keyOf = (row: { id: string }) => accountKey(row.id);

/** The accounts bucket from the account database: key = accountKey(id). */
export function sharedAccounts(): SharedBucket {
  return {
    bucket: ACCOUNTS_BUCKET,
    page: async (db, after, limit) => pageOf(await accountsAfter(db as Kysely<AccountDatabase>, after, limit), limit, keyOf, (r) => r.id, snapshotOf),
    values: async (db, keys) => valuesOf(keys, await accountsByIds(db as Kysely<AccountDatabase>, keys.map(idOfAccountKey)), keyOf, snapshotOf),
  };
}
