import type { Bus } from '../../platform/bus/types.ts';
import { parserOf } from '../../platform/schema.ts';
import { AuthenticateRequest, RecentVisitsRequest, userSubjects } from './contract/index.ts';
import type { Directory, UserUseCases } from './use-cases.ts';

const parseAuth = parserOf(AuthenticateRequest, 'USER.INVALID');
const parseRecent = parserOf(RecentVisitsRequest, 'USER.INVALID');

/** The user domain on the bus: the same use cases as its HTTP routes. */
export function serveUsers(bus: Bus, directory: Directory, useCases: UserUseCases) {
  return bus.addService({
    name: 'user',
    version: '1.0.0',
    description: 'Homeshopping users and their recent visits (owner of the users bucket)',
    endpoints: [
      { name: 'authenticate', subject: userSubjects.authenticate, handler: async (p) => directory.authenticate(parseAuth(p).token) },
      {
        name: 'recent-visits',
        subject: userSubjects.recentVisits,
        handler: async (p) => ({ itemIds: await useCases.recentItemIds(parseRecent(p).userId) }),
      },
    ],
  });
}
