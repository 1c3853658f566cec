import type { Kysely, Transaction } from 'kysely';
import { DomainError } from '../errors.ts';
import { markLocal } from '../observability/request-context.ts';
import type { Outbox } from './outbox.ts';

/** What a unit of work tells other domains, recorded in its transaction. */
export interface Changes {
  /** An event for the stream (published after commit, de-duplicated by its id). */
  event(subject: string, payload: unknown, msgId?: string): Promise<string>;
  /** Keys of a bucket this domain owns whose value changed. */
  snapshot(bucket: string, keys: string | string[]): Promise<void>;
}

/**
 * The time budget of a write after its commit: its relay, and every copy dropping what changed.
 * Settled in milliseconds as a rule; bounded by progress (Outbox.flush): relay passes that keep
 * ending well are waited for (a burst), and a write waits at most this long once none does —
 * a holder that does not answer, a bucket that cannot store — then answers 503 (saved, not
 * confirmed), within a second of asking. A write that waited while another timed out counts
 * from when it was asked (it gets at least 100 ms, not a budget of its own).
 */
export const WRITE_BUDGET_MS = 800;

/**
 * Runs a write the one way every use case writes: a transaction with its outbox rows, then the
 * relay, then — when the write changed keys others hold copies of — the wait until every copy has
 * dropped them. So a 2xx without `X-Consistency: local` means durable and visible to the caller's
 * next read wherever it goes.
 *
 * - NATS unreachable: the write stands and its rows wait in the outbox (the contract: writes to a
 *   domain's own database still succeed); copies elsewhere catch up when NATS is back, and the
 *   answer says `X-Consistency: local`.
 * - The copies did not confirm in time: the write stands, but the caller is told (503) instead of
 *   being promised what may not hold yet.
 * - Events alone need no confirmation: they are durable in the outbox, and the write answers at
 *   commit; the relay publishes them at once, in the background.
 */
export function unitOfWork<DB>(db: Kysely<DB>, outbox: Outbox, budgetMs = WRITE_BUDGET_MS) {
  const turns = new Turns();
  /** When a write last ran out of its budget (performance.now()): settles are failing. */
  let lastTimeout = Number.NEGATIVE_INFINITY;
  /**
   * `one`: what the write changes that concurrent writes may change too (a user's reaction to a
   * post, a user's alarm set). Writes with the same `one` run one after another in this process,
   * so they queue here — latency — and never on the row's lock in the database, where the lock
   * timeout would end the wait with a 503 (and another process of the module adds at most its
   * own one write to the row's queue).
   */
  return function write<T>(work: (tx: Transaction<DB>, changes: Changes) => Promise<T>, options: { one?: string } = {}): Promise<T> {
    const asked = performance.now();
    return options.one === undefined ? run(work, asked) : turns.take(options.one, () => run(work, asked));
  };

  async function run<T>(work: (tx: Transaction<DB>, changes: Changes) => Promise<T>, asked: number): Promise<T> {
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
    // The budget runs from the commit — waiting for the database, or behind writes of the same
    // key, is latency (a burst) — unless a write timed out while this one waited: settles are
    // failing, and this one counts from when it was asked, so that it too is told within a
    // second (never less than 100 ms after its commit).
    const outcome = await outbox.flush(budgetMs, lastTimeout > asked ? asked : undefined);
    // 'held': the bucket could not store it yet, but every copy shows it — as good as 'done'.
    if (outcome === 'failed' || outcome === 'timeout') {
      lastTimeout = performance.now();
      throw new DomainError('BUS.TIMEOUT', `the change is saved, but not every process confirmed it within ${budgetMs} ms; it may show late elsewhere`);
    }
    // Stored here, and nobody else could be told: the answer says so (X-Consistency: local).
    if (outcome === 'bus-down') markLocal('write-not-shared');
    return result;
  }
}

/** Work by key, one at a time per key, in the order asked; keys without work cost nothing. */
export class Turns {
  private readonly last = new Map<string, Promise<unknown>>();

  take<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.last.get(key);
    const mine = (before ? before.then(work, work) : work()) as Promise<T>;
    const settled = mine.then(
      () => {},
      () => {},
    );
    this.last.set(key, settled);
    void settled.then(() => {
      if (this.last.get(key) === settled) this.last.delete(key);
    });
    return mine;
  }
}

export type UnitOfWork<DB> = ReturnType<typeof unitOfWork<DB>>;
