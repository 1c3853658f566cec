import type { Bus } from '../../platform/bus/types.ts';
import { DomainError } from '../../platform/errors.ts';
import { parserOf } from '../../platform/schema.ts';
import { AccountGetRequest, accountSubjects } from './contract/index.ts';
import type { AccountUseCases } from './use-cases.ts';

const parseGet = parserOf(AccountGetRequest, 'ACCOUNT.INVALID');

/** The account domain on the bus: the same use cases as its HTTP routes. */
export function serveAccounts(bus: Bus, useCases: AccountUseCases) {
  return bus.addService({
    name: 'account',
    version: '1.0.0',
    description: 'minifb accounts (owner of the accounts bucket)',
    endpoints: [
      {
        name: 'get',
        subject: accountSubjects.get,
        handler: async (payload) => {
          const { id } = parseGet(payload);
          const account = await useCases.snapshot(id);
          if (!account) throw new DomainError('ACCOUNT.NOT_FOUND', `no user ${id}`);
          return account;
        },
      },
      { name: 'totals', subject: accountSubjects.totals, handler: () => useCases.totals() },
    ],
  });
}
