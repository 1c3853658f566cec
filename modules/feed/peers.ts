import { Account, ACCOUNTS_BUCKET, accountKey, accountSubjects, checkCaller, idOfAccountKey, userRefOf, type Caller, type UserRef } from '../account/contract/index.ts';
import { lookupThrough } from '../../platform/bus/lookup.ts';
import type { Bus } from '../../platform/bus/types.ts';
import { DomainError } from '../../platform/errors.ts';
import { parserOf } from '../../platform/schema.ts';

const parseAccount = parserOf(Account);

/** What the feed knows of accounts: a copy of the accounts bucket (names, token checks). */
export async function watchAccounts(bus: Bus) {
  const accounts = await bus.replica(ACCOUNTS_BUCKET, { parse: parseAccount });
  const byKey = lookupThrough(bus, accounts, (key) => ({ subject: accountSubjects.get, payload: { id: idOfAccountKey(key) } }), parseAccount);
  const account = (id: string) => byKey(accountKey(id));
  return {
    account,
    async caller(claims: Record<string, unknown>, level: 'access' | 'admin'): Promise<Caller> {
      const check = await checkCaller(account, claims, level);
      if ('refused' in check) throw new DomainError(`FEED.${check.refused}`, check.reason);
      return check.caller;
    },
    userRef: (id: string): UserRef => userRefOf(id, accounts.get(accountKey(id))),
    stop: () => accounts.stop(),
  };
}

export type FeedPeers = Awaited<ReturnType<typeof watchAccounts>>;
