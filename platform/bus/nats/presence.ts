import { hostname } from 'node:os';
import { type KV, StorageType } from 'nats';
import { detached } from '../../observability/request-context.ts';
import type { Handed, Holder, Stoppable } from '../types.ts';
import { leaderEntry, openBucket, replicaEntry, type Holders } from './buckets.ts';
import type { Connection } from './connection.ts';
import { decode, EMPTY, encode, sleep } from './wire.ts';

/** Where processes say which buckets they hold keys of (see `hold`). */
const HOLDERS_BUCKET = 'copy_holders';
/**
 * The lease. A holder renews its entry every RENEW_MS (a compare-and-set on the revision it last
 * wrote) and vouches for what it holds until LEASE_MS after it *sent* the last renewal that was
 * stored (by its own clock). NATS forgets an entry HOLDER_TTL_MS after it stored it: clocks may
 * run DRIFT apart (monotonic clocks: they never jump), so when the entry is gone the holder's
 * lease has run out — and a renewal sent before, stored after, finds no entry to compare with and
 * fails. A writer counts a holder out only when its entry is gone.
 */
export const LEASE_MS = 3000;
const RENEW_MS = 1000;
const DRIFT = 0.1;
const HOLDER_TTL_MS = Math.ceil(LEASE_MS * (1 + DRIFT)) + 200;
/** One try of a settle request (a holder answers within a millisecond or two). */
const SETTLE_TRY_MS = 250;
/** Subject prefix of the requests that tell a holder to drop keys: `_COPIES.<process>`. */
const SETTLE_PREFIX = '_COPIES';

/**
 * Holders: who must drop a key before a write is answered, and the lease that lets a holder
 * answer from what it holds.
 *
 * A process that holds keys of a bucket says so in the `copy_holders` bucket (key
 * `<bucket>.<process>`) and answers `_COPIES.<process>` requests by dropping the keys named.
 * Renewing that entry every second is its lease: while the last renewal it sent was stored less
 * than LEASE_MS ago it vouches for what it holds (`vouches`); otherwise its copies' answers are
 * marked local. A writer asks every holder of the bucket it wrote; one that does not answer is
 * never assumed gone: it is counted out only when its entry is gone — deleted by its clean stop,
 * or forgotten by NATS HOLDER_TTL_MS after its last renewal. A holder whose renewal finds its
 * entry gone may have been counted out: it drops everything it holds, then announces itself anew.
 */
export class Presence implements Holders {
  private presenceView: Promise<KV> | undefined;
  private holdersReady: Promise<void> | undefined;
  private holders = new Map<string, Set<string>>();
  /** The last `copy_holders` sequence this process's watch has seen. */
  private watchedSeq = 0;
  private readonly held = new Map<string, Set<Holder>>();
  /** This process's entry revision per bucket it holds (what its next renewal must still find). */
  private readonly revisions = new Map<string, number>();
  /** When the last renewal of every entry that was stored was sent (performance.now()). */
  private leaseFrom: number | undefined;
  /** Bumped by each reconnect: a renewal sent before it does not vouch after it. */
  private epoch = 0;
  private renewer: ReturnType<typeof setInterval> | undefined;
  private renewing: Promise<void> | undefined;
  private renewAgain: Promise<void> | undefined;
  private settleSubscription: { unsubscribe(): void } | undefined;

  constructor(private readonly c: Connection) {}

  /** The first connection: a process that held keys before it says so now. */
  attached() {
    if (this.held.size > 0) {
      this.subscribeSettle();
      void this.renew();
    }
  }

  /**
   * After a reconnect: NATS may have lost its store, so `copy_holders` is opened (made) again,
   * and nothing held is vouched for until a renewal sent from now on is stored — one finding
   * its entry gone (forgotten with the store, or its lease run out) counts this process out.
   */
  forget() {
    this.presenceView = undefined;
    this.leaseFrom = undefined;
    this.epoch++;
  }

  /** A clean stop: this process's entries go, so no writer waits for what it held. */
  async stop() {
    clearInterval(this.renewer);
    const mine = [...this.revisions.keys()];
    this.revisions.clear();
    this.leaseFrom = undefined;
    if (!this.c.connected || mine.length === 0) return;
    const kv = await this.presence().catch(() => undefined);
    await Promise.all(mine.map((bucket) => kv?.delete(`${bucket}.${this.c.instance}`).catch(() => {})));
  }

  /** Whether this process may answer from what it holds as current (its lease is valid). */
  vouches(): boolean {
    return this.leaseFrom !== undefined && performance.now() - this.leaseFrom < LEASE_MS;
  }

  private presence(): Promise<KV> {
    if (!this.presenceView) {
      const view = openBucket(this.c, HOLDERS_BUCKET, { ttl: HOLDER_TTL_MS, storage: StorageType.Memory });
      view.catch(() => {
        if (this.presenceView === view) this.presenceView = undefined;
      });
      this.presenceView = view;
    }
    return this.presenceView;
  }

  /**
   * Resolves once this process's view of the holders has caught up with the `copy_holders`
   * stream as its leader has it now: a process announced before a write was stored is then
   * known to its writer (or the write would be answered without it). One request per relay pass.
   */
  private async caughtUp(timeoutMs: number): Promise<boolean> {
    const { c } = this;
    const deadline = performance.now() + timeoutMs;
    try {
      const info = decode((await c.nc!.request(`$JS.API.STREAM.INFO.KV_${c.named(HOLDERS_BUCKET)}`, EMPTY, { timeout: Math.max(1, timeoutMs) })).data) as {
        state?: { last_seq: number };
        cluster?: { leader?: string };
      };
      // A replica of a stream without a leader answers with its own state, which may lack what
      // the last leader stored: only a leader's answer is a barrier.
      if (!info.state || (info.cluster && !info.cluster.leader)) return false;
      const last = info.state.last_seq;
      while (this.watchedSeq < last) {
        if (performance.now() > deadline) return false;
        await sleep(2);
      }
      return true;
    } catch {
      return false;
    }
  }

  watch(): Promise<void> {
    const { c } = this;
    this.holdersReady ??= new Promise<void>((ready) => {
      detached(async () => {
        await c.whenConnected();
        while (!c.closed) {
          try {
            if (!c.connected) {
              await sleep(200);
              continue;
            }
            const seen = new Map<string, Set<string>>();
            this.watchedSeq = 0;
            const watch = await (await this.presence()).watch({ key: '>', initializedFn: () => ((this.holders = seen), ready()) });
            const off = c.onReconnect(() => watch.stop());
            try {
              for await (const e of watch) {
                this.watchedSeq = Math.max(this.watchedSeq, e.revision);
                const dot = e.key.indexOf('.');
                const [bucket, instance] = [e.key.slice(0, dot), e.key.slice(dot + 1)];
                let of = seen.get(bucket);
                if (!of) seen.set(bucket, (of = new Set()));
                if (e.operation === 'PUT') of.add(instance);
                else of.delete(instance);
                this.holders = seen;
              }
            } finally {
              off();
            }
          } catch (error) {
            c.log.debug('watching the copy holders was interrupted', { error: error as Error });
            // The bucket may be gone (deleted, NATS lost its store): open (make) it again.
            this.presenceView = undefined;
          }
          await sleep(200);
        }
      });
    });
    return this.holdersReady;
  }

  async settle(bucket: string, keys: string[], revision: number, timeoutMs: number, values?: Record<string, Handed>): Promise<boolean> {
    const { c } = this;
    if (!c.connected || !c.nc) return false;
    const deadline = Date.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.watch(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]).finally(() => clearTimeout(timer));
    if (!(await this.caughtUp(deadline - Date.now()))) return false;
    const of = this.holders.get(bucket);
    if (!of) return true;
    const payload = encode({ bucket, keys, revision, values });
    const answers = await Promise.all(
      [...of].map(async (instance) => {
        // In tries: a request in flight through a NATS node that goes away is lost, and the
        // holder (moved to another node) answers the next one.
        let lookedAt = 0;
        for (;;) {
          const left = deadline - Date.now();
          if (left <= 0) break;
          try {
            await c.nc!.request(c.subject(`${SETTLE_PREFIX}.${instance}`), payload, { timeout: Math.max(1, Math.min(SETTLE_TRY_MS, left)) });
            return true;
          } catch (error) {
            if ((error as { code?: string }).code !== '503') continue;
            // Nobody subscribes there: gone (its entry may be gone too: then it is counted out
            // now, not at the deadline; looked at every 100 ms), or moving to another node.
            if (Date.now() - lookedAt >= 100) {
              lookedAt = Date.now();
              if (await this.countedOut(bucket, instance)) {
                of.delete(instance);
                return true;
              }
            }
            await sleep(10);
          }
        }
        if (await this.countedOut(bucket, instance)) {
          of.delete(instance);
          return true;
        }
        c.log.warn('a copy holder did not confirm a write in time', { bucket, instance, revision });
        return false;
      }),
    );
    return answers.every(Boolean);
  }

  /**
   * Whether a holder that did not answer may be left out: its entry is gone (as the bucket's
   * leader has it: a replica may be behind), so its lease has run out — or it stopped cleanly.
   * No leader to ask (a partition, an election): nothing can be proven, and the write is not
   * confirmed.
   */
  private async countedOut(bucket: string, instance: string): Promise<boolean> {
    try {
      return (await leaderEntry(this.c, HOLDERS_BUCKET, `${bucket}.${instance}`)) === null;
    } catch (error) {
      this.c.log.debug('could not ask whether a copy holder is gone', { bucket, instance, error: error as Error });
      return false;
    }
  }

  async hold(bucket: string, holder: Holder): Promise<Stoppable> {
    let holders = this.held.get(bucket);
    if (!holders) this.held.set(bucket, (holders = new Set()));
    holders.add(holder);
    if (!this.settleSubscription && this.c.nc) this.subscribeSettle();
    this.renewer ??= setInterval(() => void this.renew(), RENEW_MS);
    if (this.c.connected) await this.renew();
    return {
      stop: async () => {
        holders.delete(holder);
        if (holders.size > 0) return;
        this.held.delete(bucket);
        this.revisions.delete(bucket);
        if (this.c.connected) await (await this.presence()).delete(`${bucket}.${this.c.instance}`).catch(() => {});
      },
    };
  }

  private subscribeSettle() {
    this.settleSubscription = this.c.nc!.subscribe(this.c.subject(`${SETTLE_PREFIX}.${this.c.instance}`), {
      callback: (err, msg) => {
        if (err) return;
        try {
          const { bucket, keys, revision, values } = decode(msg.data) as { bucket: string; keys: string[]; revision: number; values?: Record<string, Handed> };
          for (const h of this.held.get(bucket) ?? []) h.drop(keys, revision, values ?? undefined);
        } catch (error) {
          this.c.log.warn('a settle request could not be read', { error: error as Error });
        }
        msg.respond(EMPTY);
      },
    });
  }

  /**
   * Renews the lease: every entry, each a compare-and-set on its last revision. One renewal at a
   * time; asked for while one runs, another follows it (a bucket held since must be announced
   * before `hold` returns: writers settle only with the holders they know).
   */
  renew(): Promise<void> {
    if (this.renewing) {
      this.renewAgain ??= this.renewing.then(() => {
        this.renewAgain = undefined;
        return this.renew();
      });
      return this.renewAgain;
    }
    this.renewing = this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewOnce() {
    if (!this.c.connected || this.held.size === 0) return;
    const sent = performance.now();
    const epoch = this.epoch;
    try {
      const kv = await this.presence();
      const value = encode({ pid: process.pid, host: hostname() });
      await Promise.all(
        [...this.held.keys()].map(async (bucket) => {
          const key = `${bucket}.${this.c.instance}`;
          const last = this.revisions.get(bucket);
          if (last === undefined) {
            this.revisions.set(bucket, await kv.put(key, value));
            // Announced anew: only now may what is held be read again. A writer that stored a
            // change before the announcement may not have known this process, and a read after
            // this reset sees that change; a writer after it settles with this process. (Reset
            // first, announce after, and a value read in between could miss a write of neither kind.)
            for (const h of this.held.get(bucket) ?? []) h.reset();
            return;
          }
          try {
            this.revisions.set(bucket, await kv.update(key, value, last));
          } catch (error) {
            if (!/wrong last sequence/i.test((error as Error).message ?? '')) throw error;
            // Not what we last wrote: either a renewal of ours was stored but its answer lost (the
            // leader went away after storing it), or NATS forgot the entry. Only this process
            // writes its key, so an entry still there is ours: the lease was never broken, but
            // that renewal's send time is unknown, so it does not extend the lease.
            // The leader is asked; while JetStream has no meta leader (for seconds after a
            // partitioned node rejoins its peers) that API is not answered, and a replica is
            // asked instead: its answer is only a guess at the revision, which the
            // compare-and-set below checks at the leader (a wrong one counts this process out:
            // it drops what it holds and announces itself again, the safe side).
            const stored = await leaderEntry(this.c, HOLDERS_BUCKET, key).catch(() => replicaEntry(this.c, HOLDERS_BUCKET, key));
            if (stored === null) throw error;
            this.revisions.set(bucket, await kv.update(key, value, stored.revision));
          }
        }),
      );
      if (epoch === this.epoch && (this.leaseFrom === undefined || sent > this.leaseFrom)) this.leaseFrom = sent;
    } catch (error) {
      // Our entry is gone: NATS forgot it (our lease ran out; or NATS lost its store).
      if (/wrong last sequence/i.test((error as Error).message ?? '')) return this.countedOutHere();
      this.c.log.debug('could not renew the lease of the copies this process holds', { error: error as Error });
      // The bucket gone (NATS lost its store): open (make) it again. Otherwise the view stays:
      // opening one asks JetStream's meta leader, which a cluster re-electing may not have for
      // seconds after the stream's own leader is back.
      if (/stream not found|no stream|404/i.test(String((error as Error).message) + String((error as { code?: string }).code))) this.presenceView = undefined;
    }
  }

  /** Counted out (or may have been): announce anew (a new lease, new revisions), then drop everything held. */
  private countedOutHere() {
    if (this.revisions.size === 0) return;
    this.c.log.warn('this process may have been counted out as a copy holder (its lease ran out): it drops what it holds and announces itself again');
    this.leaseFrom = undefined;
    this.revisions.clear();
    // (what is held is dropped once the new entries are stored: see renewOnce)
    void this.renew();
  }
}
