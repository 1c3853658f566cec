import { minifbModule } from '../../platform/module.ts';
import { jwtSecret } from '../../platform/secrets.ts';
import { accountHttp } from './http.ts';
import { migrations } from './migrations.ts';
import type { AccountDatabase } from './schema.ts';
import { serveAccounts, sharedAccounts } from './service.ts';
import { accountSettings } from './settings.ts';
import { accountUseCases } from './use-cases.ts';

export const accountModule = minifbModule<AccountDatabase>({
  name: 'account',
  splitPort: 8001,
  routes: ['/check', '/signup', '/auth', '/refresh', '/me', '/user'],
  migrations,
  async start({ db, bus, outbox, log, config, clock }) {
    const settings = accountSettings(config);
    const secret = jwtSecret(config, log);
    const useCases = accountUseCases({ db, outbox, secret, settings, clock });

    outbox.share(sharedAccounts());

    const admin = await useCases.ensureAdmin();
    if (settings.developmentAdmin) {
      log.warn('minifb administrator is the development default: set MINIFB_ADMIN_ID and MINIFB_ADMIN_PASSWORD outside local development', {
        id: settings.adminId,
        created: admin === 'created',
      });
    } else {
      log.info('minifb administrator', { id: settings.adminId, created: admin === 'created' });
    }

    const service = await serveAccounts(bus, useCases);
    return {
      http: accountHttp(useCases, { secret, clock }),
      stop: () => service.stop(),
    };
  },
});
