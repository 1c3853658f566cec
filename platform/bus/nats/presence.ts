import { hostname } from 'node:os';
import { type KV, StorageType } from 'nats';
import { detached } from '../../observability/request-context.ts';
import type { Drop, Handed, Stoppable } from '../types.ts';
import { openBucket, type Holders } from './buckets.ts';
import type { Connection } from './connection.ts';
import { decode, EMPTY, encode, sleep } from './wire.ts';

/** Where processes say which buckets they hold keys of (see `hold`). */
const HOLDERS_BUCKET = 'copy_holders';
const HOLDER_HEARTBEAT_MS = 10_000;
const HOLDER_TTL_MS = 30_000;
/** One try of a settle request (a holder answers within a millisecond or two). */
const SETTLE_TRY_MS = 250;
/**
 * How long a holder that was seen lately but has no subscription is asked again (see settle):
 * while it moves to another node it still answers reads from what it holds, until its client
 * sees the connection gone and resets. On a busy machine that took more than 400 ms (a cluster
 * test under load read a value older than the write it had just been answered), so most of the
 * write's one-second budget goes to it.
 */
const MOVING_GRACE_MS = 800;
/** Subject prefix of the requests that tell a holder to drop keys: `_COPIES.<process>`. */
const SETTLE_PREFIX = '_COPIES';

/**
 * Holders: who must drop a key before a write is answered.
 *
 * A process that holds keys of a bucket says so in the `copy_holders` bucket (key
 * `<bucket>.<process>`, refreshed every HOLDER_HEARTBEAT_MS, gone HOLDER_TTL_MS after the
 * process stops refreshing it) and answers `_COPIES.<process>` requests by dropping the keys
 * named. A writer watches `copy_holders` and asks each holder of the bucket it wrote. A holder
 * that is gone has no subscription left: NATS says "no responders" at once.
 */
export class Presence implements Holders {
  private presenceView: Promise<KV> | undefined;
  private holdersReady: Promise<void> | undefined;
  private holders = new Map<string, Map<string, number>>();
  private readonly held = new Map<string, Set<Drop>>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private settleSubscription: { unsubscribe(): void } | undefined;

  constructor(private readonly c: Connection) {}

  /** The first connection: a process that held keys before it says so now. */
  attached() {
    if (this.held.size > 0) {
      this.subscribeSettle();
      void this.announce();
    }
  }

  /** After a reconnect: NATS may have lost its store, so `copy_holders` is opened (made) again. */
  forget() {
    this.presenceView = undefined;
  }

  stop() {
    clearInterval(this.heartbeat);
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
            const seen = new Map<string, Map<string, number>>();
            const watch = await (await this.presence()).watch({ key: '>', initializedFn: () => ((this.holders = seen), ready()) });
            const off = c.onReconnect(() => watch.stop());
            try {
              for await (const e of watch) {
                const dot = e.key.indexOf('.');
                const [bucket, instance] = [e.key.slice(0, dot), e.key.slice(dot + 1)];
                let of = seen.get(bucket);
                if (!of) seen.set(bucket, (of = new Map()));
                if (e.operation === 'PUT') of.set(instance, Date.now());
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
    const of = this.holders.get(bucket);
    if (!of) return true;
    const payload = encode({ bucket, keys, revision, values });
    const now = Date.now();
    const answers = await Promise.all(
      [...of].map(async ([instance, seenAt]) => {
        if (now - seenAt > HOLDER_TTL_MS + HOLDER_HEARTBEAT_MS) {
          of.delete(instance);
          return true;
        }
        // In tries: a request in flight through a NATS node that goes away is lost, and the
        // holder (moved to another node) answers the next one.
        let gone: number | undefined;
        for (;;) {
          const left = deadline - Date.now();
          if (left <= 0) break;
          try {
            await c.nc!.request(c.subject(`${SETTLE_PREFIX}.${instance}`), payload, { timeout: Math.max(1, Math.min(SETTLE_TRY_MS, left)) });
            return true;
          } catch (error) {
            // Nobody subscribes there: that process is gone, and holds nothing — or, when it
            // was seen lately, it may be moving to another node of the cluster (back within
            // milliseconds, holding what it held): it is asked again for a moment first.
            if ((error as { code?: string }).code === '503') {
              gone ??= Date.now() + (now - seenAt < HOLDER_HEARTBEAT_MS * 2 ? MOVING_GRACE_MS : 0);
              if (Date.now() >= gone) {
                of.delete(instance);
                return true;
              }
              await sleep(10);
            }
          }
        }
        c.log.warn('a copy holder did not confirm a write in time', { bucket, instance, revision });
        return false;
      }),
    );
    return answers.every(Boolean);
  }

  async hold(bucket: string, drop: Drop): Promise<Stoppable> {
    let drops = this.held.get(bucket);
    if (!drops) this.held.set(bucket, (drops = new Set()));
    drops.add(drop);
    if (!this.settleSubscription && this.c.nc) this.subscribeSettle();
    this.heartbeat ??= setInterval(() => void this.announce(), HOLDER_HEARTBEAT_MS);
    if (this.c.connected) await this.announce([bucket]);
    return {
      stop: async () => {
        drops.delete(drop);
        if (drops.size > 0) return;
        this.held.delete(bucket);
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
          for (const drop of this.held.get(bucket) ?? []) drop(keys, revision, values ?? undefined);
        } catch (error) {
          this.c.log.warn('a settle request could not be read', { error: error as Error });
        }
        msg.respond(EMPTY);
      },
    });
  }

  /** Says (again) that this process holds keys of these buckets. */
  async announce(buckets: Iterable<string> = this.held.keys()) {
    if (!this.c.connected) return;
    try {
      const kv = await this.presence();
      const value = encode({ pid: process.pid, host: hostname() });
      await Promise.all([...buckets].map((b) => kv.put(`${b}.${this.c.instance}`, value)));
    } catch (error) {
      this.c.log.warn('could not announce the copies this process holds', { error: error as Error });
      this.presenceView = undefined;
    }
  }
}
