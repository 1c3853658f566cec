import { connect, Events, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { Logger } from '../../observability/log.ts';
import { detached } from '../../observability/request-context.ts';
import type { Stoppable } from '../types.ts';
import { sleep } from './wire.ts';

/** While NATS is away, how often a watcher looks whether it is back. */
const AWAY_LOOK_MS = 200;
/**
 * The back-off between a watcher's attempts: the first pause after a watch that was in place
 * ended (a reconnect, a stall: back at once), doubling while attempts fail before they are in
 * place, up to the last — a cluster electing its leaders for seconds is asked twice a second
 * by each follower and consumer, not ten times.
 */
const RESTART_FIRST_MS = 100;
const RESTART_LAST_MS = 500;
/** How often a watch in place is asked whether it stalled. */
const WATCHDOG_MS = 1000;

export interface ConnectOptions {
  servers: string;
  namespace: string;
  log: Logger;
  name?: string;
  firstConnectWaitMs?: number;
  replicas?: number;
}

/** What the bus's parts do as the connection comes and goes (the order is the bus's, see index.ts). */
export interface Lifecycle {
  /** The first connection: what the bus was asked for before it (streams, services, holders) is applied; `whenConnected` resolves after. */
  attached(): Promise<void>;
  /** A reconnect, before anyone is told: NATS may have lost its store, so views are opened again. */
  forget(): void;
  /** A reconnect, after the listeners: what NATS may have lost is made again. */
  restore(): Promise<void>;
}

/** What a watcher's attempt is told and tells back (see `Connection.supervise`). */
export interface Attempt {
  /** True once the watcher was stopped: the attempt ends, telling nobody anything. */
  readonly stopped: boolean;
  /**
   * The attempt's watch is in place: a reconnect (where the watcher asks for it), a stall or
   * `stop` ends the attempt by stopping `watch`, and the back-off starts over. `stalled` is
   * asked every WATCHDOG_MS while connected; one that throws counts as stalled (what it looks
   * at is gone: set it up again).
   */
  inPlace(watch: { stop(): void }, stalled?: () => Promise<boolean>): void;
}

/** Something that watches NATS for as long as it is wanted: a follower, the holders, a consumer. */
export interface Watcher {
  /** What it does, for the log: `${what} was interrupted`. */
  what: string;
  fields?: Record<string, unknown>;
  /** One attempt: sets the watch up, calls `attempt.inPlace`, and consumes the watch until it ends. */
  attempt(attempt: Attempt): Promise<void>;
  /**
   * A watch that may miss something across a reconnect is ended then, and started again
   * (`reconnected` called first); one that is not goes on over the new connection by itself.
   */
  restartOnReconnect?: boolean;
  reconnected?(): void;
  /** An attempt threw (it has been logged). */
  failed?(error: unknown): void;
}

/**
 * The connection to NATS every part of the bus shares: the clients, whether it is up, the
 * namespace and replicas of what this process makes, and who is told of a reconnect.
 */
export class Connection {
  private clients: { nc: NatsConnection; js: JetStreamClient; jsm: JetStreamManager } | undefined;
  private isConnected = false;
  private isClosed = false;
  /** Since when the connection has been down; undefined while connected. */
  disconnectedAt: number | undefined;
  private readonly onConnect: (() => void)[] = [];
  private readonly connectionWaiters = new Set<() => void>();
  private readonly reconnectListeners: (() => void)[] = [];
  /** What `close` stops: every watcher still running. */
  private readonly stoppers = new Set<() => Promise<void>>();
  /** Names this process apart from every other process on the bus (holders, consumers). */
  readonly instance = `${process.pid}_${crypto.randomUUID().slice(0, 8)}`;

  constructor(
    private readonly namespace: string,
    readonly log: Logger,
    /** Replicas of every bucket and stream this process creates. */
    readonly replicas: number,
  ) {}

  /** Connects in the background; resolves once connected or after `firstConnectWaitMs`, whichever is first. */
  async open(opts: ConnectOptions, lifecycle: Lifecycle): Promise<void> {
    const connecting = connect({
      servers: opts.servers.split(',').map((s) => s.trim()),
      name: opts.name ?? `moa-${process.pid}`,
      maxReconnectAttempts: -1,
      // nats.js keeps an Error per request for its stack otherwise: memory and time on every read.
      noAsyncTraces: true,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      pingInterval: 5000,
      timeout: 1000,
    }).then((nc) => this.attach(nc, lifecycle));
    connecting.catch((error) => this.log.error('NATS connection failed for good', { error }));
    // Wait a little for the first connection; a NATS that is down must not stop the process.
    await Promise.race([connecting, sleep(opts.firstConnectWaitMs ?? 2000)]);
    if (!this.isConnected) this.log.warn('NATS not reachable at start; running on local state until it is', { servers: opts.servers });
  }

  get nc() {
    return this.clients?.nc;
  }

  get js() {
    return this.clients?.js;
  }

  get jsm() {
    return this.clients?.jsm;
  }

  get connected() {
    return this.isConnected && !this.isClosed;
  }

  get closed() {
    return this.isClosed;
  }

  awaitConnection(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    if (this.isClosed) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.connectionWaiters.delete(done);
        resolve(this.connected);
      };
      const timer = setTimeout(done, timeoutMs);
      this.connectionWaiters.add(done);
    });
  }

  /** Resolves once connected (immediately when connected). */
  whenConnected(): Promise<void> {
    if (this.clients) return Promise.resolve();
    return new Promise((resolve) => this.onConnect.push(resolve));
  }

  /** A subject of this namespace. */
  subject(s: string) {
    return this.namespace ? `${this.namespace}.${s}` : s;
  }

  /** A stream or bucket name of this namespace. */
  named(s: string) {
    return this.namespace ? `${this.namespace}_${s}` : s;
  }

  /** Calls `listener` after every reconnect; returns what stops that. */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.push(listener);
    return () => {
      const at = this.reconnectListeners.indexOf(listener);
      if (at >= 0) this.reconnectListeners.splice(at, 1);
    };
  }

  /**
   * Runs `watcher` until it is stopped or the connection closed: the one loop that (re)starts
   * whatever watches NATS — once connected, after a reconnect, after an error, after a stall —
   * with one back-off (RESTART_FIRST_MS…RESTART_LAST_MS) and one way to stop.
   */
  supervise(watcher: Watcher): Stoppable & { readonly stopped: boolean } {
    let stopped = false;
    let watch: { stop(): void } | undefined;
    let watchdog: ReturnType<typeof setInterval> | undefined;
    let pause = RESTART_FIRST_MS;
    const attempt: Attempt = {
      get stopped() {
        return stopped;
      },
      inPlace: (w, stalled) => {
        watch = w;
        pause = RESTART_FIRST_MS;
        if (stopped) return w.stop();
        if (!stalled) return;
        watchdog = setInterval(() => {
          if (!this.connected) return;
          stalled().then(
            (yes) => yes && w.stop(),
            () => w.stop(),
          );
        }, WATCHDOG_MS);
      },
    };
    const loop = async () => {
      await this.whenConnected();
      while (!stopped && !this.isClosed) {
        if (!this.connected) {
          await sleep(AWAY_LOOK_MS);
          continue;
        }
        try {
          await watcher.attempt(attempt);
        } catch (error) {
          if (!stopped) {
            this.log.debug(`${watcher.what} was interrupted`, { ...watcher.fields, error: error as Error });
            watcher.failed?.(error);
          }
        } finally {
          clearInterval(watchdog);
          watch = watchdog = undefined;
        }
        if (stopped) break;
        await sleep(pause);
        pause = Math.min(pause * 2, RESTART_LAST_MS);
      }
    };
    const off = watcher.restartOnReconnect
      ? this.onReconnect(() => {
          if (stopped) return;
          watcher.reconnected?.();
          watch?.stop();
        })
      : () => {};
    const stop = async () => {
      stopped = true;
      watch?.stop();
      off();
      this.stoppers.delete(stop);
    };
    this.stoppers.add(stop);
    detached(loop);
    return {
      stop,
      get stopped() {
        return stopped;
      },
    };
  }

  private async attach(nc: NatsConnection, lifecycle: Lifecycle) {
    // A JetStream answer that does not come within these bounds is a 503, not a hang.
    const js = nc.jetstream({ timeout: 1000 });
    // No account-info request first: a cluster electing its leaders may not answer it for
    // seconds, and the connection is up regardless (every JetStream call has its own timeout).
    const jsm = await nc.jetstreamManager({ timeout: 2000, checkAPI: false });
    this.clients = { nc, js, jsm };
    this.isConnected = true;
    for (const w of [...this.connectionWaiters]) w();
    this.log.info('NATS connected', { server: nc.getServer() });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          this.isConnected = false;
          this.disconnectedAt = Date.now();
          this.log.warn('NATS disconnected');
        } else if (s.type === Events.Reconnect) {
          this.isConnected = true;
          this.disconnectedAt = undefined;
          this.log.info('NATS reconnected');
          lifecycle.forget();
          // (copies drop what they hold in the listeners below, before any waiting read goes on)
          queueMicrotask(() => {
            for (const w of [...this.connectionWaiters]) w();
          });
          // The listeners first (copies drop what they hold at once: changes may have been
          // missed); making the streams again may wait on a cluster's election for seconds.
          // One failing listener must not keep the others (or later status events) from running.
          for (const l of [...this.reconnectListeners]) {
            try {
              l();
            } catch (error) {
              this.log.warn('reconnect listener failed', { error: error as Error });
            }
          }
          await lifecycle.restore();
        }
      }
    })();
    await lifecycle.attached();
    for (const f of this.onConnect.splice(0)) f();
  }

  /** Nothing starts again after this: every watcher stops, then `rest`, then the connection drains. */
  async close(rest: () => Promise<void>): Promise<void> {
    this.isClosed = true;
    for (const stop of this.stoppers) await stop().catch(() => {});
    await rest();
    await this.nc?.drain().catch(() => this.nc?.close());
  }
}
