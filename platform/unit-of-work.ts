import type { Kysely, Transaction } from 'kysely';
import { DomainError } from './errors.ts';
import type { Outbox } from './outbox.ts';

/** What a unit of work tells other domains, recorded in its transaction. */
export interface Changes {
  /** An event for the stream (published after commit, de-duplicated by its id). */
  event(subject: string, payload: unknown, msgId?: string): Promise<string>;
  /** Keys of a bucket this domain owns whose value changed. */
  snapshot(bucket: string, keys: string | string[]): Promise<void>;
}

/**
 * The one time budget of a write: commit, relay, and every copy dropping what changed. Settled
 * in milliseconds as a rule; the room is for a NATS cluster losing a node (a reconnection, a
 * bucket refusing writes while it elects a leader, a holder moving to another node).
 */
export const WRITE_BUDGET_MS = 1500;
/** How long a write of events alone waits for them to be published (they are durable anyway). */
const EVENTS_FLUSH_MS = 1000;

/**
 * Runs a write the one way every use case writes: a transaction with its outbox rows, then the
 * relay, then — when the write changed keys others hold copies of — the wait until every copy has
 * dropped them, all within one budget. So a 2xx means durable and visible to the caller's next
 * read wherever it goes.
 *
 * - NATS unreachable: the write stands and its rows wait in the outbox (the contract: writes to a
 *   domain's own database still succeed); copies elsewhere catch up when NATS is back.
 * - The copies did not confirm in time: the write stands, but the caller is told (503) instead of
 *   being promised what may not hold yet.
 * - Events alone need no confirmation: they are durable in the outbox, published as soon as can be.
 */
export function unitOfWork<DB>(db: Kysely<DB>, outbox: Outbox, budgetMs = WRITE_BUDGET_MS) {
  return async function write<T>(work: (tx: Transaction<DB>, changes: Changes) => Promise<T>): Promise<T> {
    const deadline = Date.now() + budgetMs;
    let shared = false;
    const result = await db.transaction().execute((tx) =>
      work(tx, {
        event: (subject, payload, msgId) => outbox.event(tx, subject, payload, msgId),
        snapshot: async (bucket, keys) => {
          shared = true;
          await outbox.snapshot(tx, bucket, keys);
        },
      }),
    );
    // Events need no confirmation (durable in the outbox): they are published now if that is
    // quick, and the room for a cluster's failover is only for what copies must confirm.
    const outcome = await outbox.flush(Math.max(1, Math.min(deadline - Date.now(), shared ? Infinity : EVENTS_FLUSH_MS)));
    // 'held': the bucket could not store it yet, but every copy shows it — as good as 'done'.
    if (shared && (outcome === 'failed' || outcome === 'timeout')) {
      throw new DomainError('BUS.TIMEOUT', `the change is saved, but not every process confirmed it within ${budgetMs} ms; it may show late elsewhere`);
    }
    return result;
  };
}

export type UnitOfWork<DB> = ReturnType<typeof unitOfWork<DB>>;
