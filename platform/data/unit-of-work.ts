import type { Kysely, Transaction } from 'kysely';
import { DomainError } from '../errors.ts';
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
 * - Events alone need no confirmation: they are durable in the outbox, and the write answers at
 *   commit; the relay publishes them at once, in the background.
 */
export function unitOfWork<DB>(db: Kysely<DB>, outbox: Outbox, budgetMs = WRITE_BUDGET_MS) {
  return async function write<T>(work: (tx: Transaction<DB>, changes: Changes) => Promise<T>): Promise<T> {
    const deadline = Date.now() + budgetMs;
    let shared = false;
    let events = false;
    const result = await db.transaction().execute((tx) =>
      work(tx, {
        event: (subject, payload, msgId) => {
          events = true;
          return outbox.event(tx, subject, payload, msgId);
        },
        snapshot: async (bucket, keys) => {
          shared = true;
          await outbox.snapshot(tx, bucket, keys);
        },
      }),
    );
    // Nothing for others (an edit of one's own post): the commit is all.
    if (!shared && !events) return result;
    if (!shared) {
      // Events alone: durable with the commit, relayed in the background within milliseconds (one
      // pass carries every row committed meanwhile). Waiting for the pass would make each write pay for it.
      outbox.soon();
      return result;
    }
    const outcome = await outbox.flush(Math.max(1, deadline - Date.now()));
    // 'held': the bucket could not store it yet, but every copy shows it — as good as 'done'.
    if (outcome === 'failed' || outcome === 'timeout') {
      throw new DomainError('BUS.TIMEOUT', `the change is saved, but not every process confirmed it within ${budgetMs} ms; it may show late elsewhere`);
    }
    return result;
  };
}

export type UnitOfWork<DB> = ReturnType<typeof unitOfWork<DB>>;
