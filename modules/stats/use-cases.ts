import type { Static, TSchema } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import { accountRequests } from '../account/contract/index.ts';
import { feedRequests } from '../feed/contract/index.ts';
import { call, type Bus, type DeliveredEvent, type RequestDescriptor } from '../../platform/bus/index.ts';
import { DomainError, isUnavailable } from '../../platform/errors.ts';
import { parserOf } from '../../platform/bus/schema.ts';
import { RequestBatch } from '../../platform/observability/telemetry.ts';
import { addBatch, byEndpointSince, byStatusSince, prune, secondsSince } from './queries.ts';
import type { StatsDatabase } from './schema.ts';

const parseBatch = parserOf(RequestBatch, 'STATS.INVALID');

const minuteFloor = (ms: number) => new Date(Math.floor(ms / 60_000) * 60_000);

export function statsUseCases(deps: { db: Kysely<StatsDatabase>; bus: Bus; timeZone: string; now?: () => number }) {
  const { db, bus, timeZone } = deps;
  const now = deps.now ?? Date.now;
  /** The owners' last answers: while one is down, the statistics show what it said last. */
  let lastTotals: { totalUsers?: number; totalPosts?: number; postsToday?: number } = {};

  async function ownersTotals() {
    const ask = async <Req extends TSchema, Rep extends TSchema>(request: RequestDescriptor<Req, Rep>, payload: Static<Req>): Promise<Static<Rep> | undefined> => {
      try {
        return await call(bus, request, payload, { timeoutMs: 500 });
      } catch (error) {
        if (isUnavailable(error)) return undefined;
        throw error;
      }
    };
    const [accounts, feed] = await Promise.all([
      ask(accountRequests.totals, {}),
      ask(feedRequests.totals, { timeZone }),
    ]);
    lastTotals = { ...lastTotals, ...accounts, ...feed };
    const { totalUsers, totalPosts, postsToday } = lastTotals;
    if (totalUsers === undefined || totalPosts === undefined || postsToday === undefined) {
      throw new DomainError('STATS.UNAVAILABLE', `totals: the ${totalUsers === undefined ? 'account' : 'feed'} service has not answered yet`);
    }
    return { totalUsers, totalPosts, postsToday };
  }

  return {
    /** One process's second of requests (at least once): added once per message id. */
    async handle(event: DeliveredEvent): Promise<void> {
      const batch = parseBatch(event.payload);
      // A second of one process is counted once, whatever message carries it (a retry, a redelivery).
      await db.transaction().execute((tx) => addBatch(tx, `${batch.process}:${batch.product}:${batch.second}`, batch));
    },

    /**
     * The figures of `GET /admin/stats`: rps over the last 60 s; requests, statuses and
     * endpoints over the last 24 h (by minute); totals from their owners.
     */
    async stats() {
      const t = now();
      const since = minuteFloor(t - 24 * 3_600_000);
      // The total is the sum of the statuses (one read: they cannot disagree), and the endpoints
      // are read after the statuses, so they hold at least every batch the statuses do.
      const counts = (async () => {
        const byStatus = await byStatusSince(db, since);
        const byEndpoint = await byEndpointSince(db, since);
        const seconds = await secondsSince(db, new Date(Math.floor(t / 1000) * 1000 - 60_000));
        return { seconds, byStatus, byEndpoint };
      })();
      const [{ seconds, byStatus, byEndpoint }, totals] = await Promise.all([counts, ownersTotals()]);
      const requestsLast24h = Object.values(byStatus).reduce((sum, n) => sum + n, 0);
      const rps = seconds.reduce((sum, s) => sum + s.count, 0) / 60;
      return { rps: Math.round(rps * 1000) / 1000, requestsLast24h, byStatus, byEndpoint, ...totals };
    },

    /** Requests of each second of the last hour, oldest first, zeros included: the dashboard's chart. */
    async series() {
      const to = Math.floor(now() / 1000);
      const from = to - 3600;
      const counts = new Array<number>(3600).fill(0);
      for (const s of await secondsSince(db, new Date(from * 1000))) {
        const i = Math.floor(s.second.getTime() / 1000) - from;
        if (i >= 0 && i < 3600) counts[i] = s.count;
      }
      return { from, step: 1, counts };
    },

    prune: () => prune(db, new Date(now())),
  };
}

export type StatsUseCases = ReturnType<typeof statsUseCases>;
