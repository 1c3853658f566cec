import { sql, type Kysely } from 'kysely';
import { errorBody } from '../http/schemas.ts';
import { errorResponse, type Operation } from '../http/api-document.ts';

/**
 * Health of a port, for orchestrators and load balancers (no authentication, never metered):
 *
 * - `GET /healthz`: the process is alive (answers at all); nothing else is checked, so a
 *   database or NATS being away never gets a live process restarted;
 * - `GET /readyz`: the port can answer correctly — every database of its modules answers a
 *   `select 1` within READY_TIMEOUT_MS, and every bounded copy its modules read can answer
 *   (NATS is connected, or the copy holds the whole bucket). 200, or 503 in the error envelope
 *   naming each thing that is not ready (`item database unreachable; copy of users not ready`).
 *   One check runs at a time and its answer is kept for READY_CACHE_MS: probes cost nothing.
 */

/** A thing a port needs: `undefined` when ready, else what is not ready. */
export type ReadinessCheck = () => Promise<string | undefined> | string | undefined;

/** How long a database may take to answer `select 1` before it counts as unreachable. */
export const READY_TIMEOUT_MS = 800;
/** How long one readiness answer is kept. */
export const READY_CACHE_MS = 1000;

const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } });

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** The module's database answers `select 1` in time. */
export function databaseCheck(module: string, db: Kysely<any>, timeoutMs = READY_TIMEOUT_MS): ReadinessCheck {
  return async () => {
    try {
      await within(sql`select 1`.execute(db), timeoutMs);
      return undefined;
    } catch {
      return `${module} database unreachable`;
    }
  };
}

/** A copy of another domain's bucket can answer every read correctly. */
export function copyCheck(bucket: string, copy: { ready(): boolean }): ReadinessCheck {
  return () => (copy.ready() ? undefined : `copy of ${bucket} not ready`);
}

export class Readiness {
  private last: { at: number; problems: string[] } | undefined;
  private running: Promise<string[]> | undefined;

  constructor(
    private readonly checks: () => readonly ReadinessCheck[],
    private readonly cacheMs = READY_CACHE_MS,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** What is not ready (empty: ready), at most cacheMs old. */
  problems(): Promise<string[]> {
    if (this.last && this.now() - this.last.at < this.cacheMs) return Promise.resolve(this.last.problems);
    this.running ??= Promise.all(this.checks().map(async (check) => check()))
      .then((found) => {
        const problems = [...new Set(found.filter((p): p is string => p !== undefined))];
        this.last = { at: this.now(), problems };
        return problems;
      })
      .finally(() => (this.running = undefined));
    return this.running;
  }

  async response(): Promise<Response> {
    const problems = await this.problems();
    return problems.length === 0 ? json(200, { status: 'ready' }) : json(503, errorBody(503, problems.join('; ')));
  }
}

export const aliveResponse = () => json(200, { status: 'alive' });

const STATUS_BODY = (value: string) => ({ type: 'object', required: ['status'], properties: { status: { type: 'string', enum: [value] } } });

/** The health operations, for every port's OpenAPI document; `notReady` is the 503's example hint. */
export const healthOperations = (notReady: string): Record<string, Record<string, Operation>> => ({
  '/healthz': {
    get: {
      summary: 'Liveness: the process answers (nothing else is checked)',
      tags: ['operations'],
      operationId: 'getHealthz',
      security: [],
      responses: { 200: { description: 'Alive', content: { 'application/json': { schema: STATUS_BODY('alive'), example: { status: 'alive' } } } } },
    },
  },
  '/readyz': {
    get: {
      summary: "Readiness: the port's databases answer and the copies it reads can answer",
      description: `Answers from a check at most a second old. 503 names each thing that is not ready, e.g. \`${notReady}\`.`,
      tags: ['operations'],
      operationId: 'getReadyz',
      security: [],
      responses: {
        200: { description: 'Ready', content: { 'application/json': { schema: STATUS_BODY('ready'), example: { status: 'ready' } } } },
        503: errorResponse(503, notReady),
      },
    },
  },
});
