import { connect, Events, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { Logger } from '../../observability/log.ts';
import { sleep } from './wire.ts';

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
  /** What `close` stops: every follower and consumer still running. */
  readonly stoppers = new Set<() => Promise<void>>();
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
      // A connection that stops carrying anything without closing (a network that drops packets) is
      // noticed within two pings unanswered: 4-6 s, then the process reconnects or knows NATS is away.
      pingInterval: 2000,
      maxPingOut: 2,
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
    // The wait counts from the disconnect: a process moving to another node is back within
    // milliseconds of it, so once it has been away longer, nobody waits again.
    const left = this.disconnectedAt === undefined ? timeoutMs : timeoutMs - (Date.now() - this.disconnectedAt);
    if (left <= 0) return Promise.resolve(false);
    timeoutMs = left;
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

  /** Nothing starts again after this: every follower and consumer stops, then `rest`, then the connection drains. */
  async close(rest: () => Promise<void>): Promise<void> {
    this.isClosed = true;
    for (const stop of this.stoppers) await stop().catch(() => {});
    await rest();
    await this.nc?.drain().catch(() => this.nc?.close());
  }
}
