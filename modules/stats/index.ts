import { accountsBucket, checkCaller } from '../account/contract/index.ts';
import { minifbModule } from '../../platform/module.ts';
import { jwtSecret } from '../../platform/secrets.ts';
import { TELEMETRY_STREAM } from '../../platform/observability/telemetry.ts';
import { STATS_CONSUMER } from './contract/index.ts';
import { dashboardAssets } from './dashboard/build.ts';
import { statsHttp } from './http.ts';
import { migrations } from './migrations.ts';
import type { StatsDatabase } from './schema.ts';
import { statsTimeZone } from './settings.ts';
import { statsUseCases } from './use-cases.ts';

export const statsModule = minifbModule<StatsDatabase>({
  name: 'stats',
  splitPort: 8004,
  routes: ['/admin'],
  migrations,
  async start({ db, bus, log, config, copyOf, clock }) {
    const secret = jwtSecret(config, log);
    const timeZone = statsTimeZone(config);
    const useCases = statsUseCases({ db, bus, timeZone, now: () => clock.now() });

    // Administrators are told apart by the accounts snapshot, like every other caller.
    const accounts = await copyOf(accountsBucket);
    const caller = (claims: Record<string, unknown>, level: 'access' | 'admin') => checkCaller((id) => accounts.get(id), claims, level);

    await bus.ensureStream(TELEMETRY_STREAM);
    const consumer = await bus.consume({ stream: TELEMETRY_STREAM.name, durable: STATS_CONSUMER, handler: (event) => useCases.handle(event) });
    const pruning = setInterval(() => void useCases.prune().catch((error) => log.warn('could not prune statistics', { error })), 60_000);
    log.info('statistics', { timeZone });

    return {
      http: statsHttp(useCases, caller, { secret, clock }, await dashboardAssets()),
      async stop() {
        clearInterval(pruning);
        await consumer.stop();
      },
    };
  },
});
