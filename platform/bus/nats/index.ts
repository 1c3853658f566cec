import type { Bus, ConsumerSpec, Follower, Holder, ServiceSpec, StreamSpec } from '../types.ts';
import { Buckets } from './buckets.ts';
import { Connection, type ConnectOptions } from './connection.ts';
import { Presence } from './presence.ts';
import { Services } from './services.ts';
import { Streams } from './streams.ts';

/**
 * The bus over NATS: services (micro) API for request/reply (services.ts), JetStream KV for
 * snapshot buckets (buckets.ts) and who holds their keys (presence.ts), JetStream streams with
 * durable pull consumers for events (streams.ts), all over one connection (connection.ts).
 *
 * The process starts whether NATS is up or not. Everything a module asked for (services,
 * replicas, streams, consumers) is remembered and (re)applied on the first connection and
 * after every reconnect, so a NATS restart — even one that lost its store — heals by itself.
 * While NATS is down, requests and publishes fail fast with BUS.UNAVAILABLE; replicas keep
 * what they hold.
 */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private readonly services: Services;
  private readonly presence: Presence;
  private readonly buckets: Buckets;
  private readonly streams: Streams;

  private constructor(private readonly connection: Connection) {
    this.services = new Services(connection);
    this.presence = new Presence(connection);
    this.buckets = new Buckets(connection, this.presence);
    this.streams = new Streams(connection);
  }

  static async connect(opts: ConnectOptions): Promise<NatsBus> {
    const bus = new NatsBus(new Connection(opts.namespace, opts.log, opts.replicas ?? 1));
    await bus.connection.open(opts, {
      attached: async () => {
        await bus.streams.restore();
        await bus.services.startAll();
        bus.presence.attached();
      },
      forget: () => {
        bus.buckets.forget();
        bus.presence.forget();
      },
      restore: async () => {
        void bus.presence.renew();
        await bus.streams.restore();
      },
    });
    return bus;
  }

  /** Names this process apart from every other process on the bus (holders, consumers). */
  get instance() {
    return this.connection.instance;
  }

  get connected() {
    return this.connection.connected;
  }

  get disconnectedAt() {
    return this.connection.disconnectedAt;
  }

  awaitConnection(timeoutMs: number) {
    return this.connection.awaitConnection(timeoutMs);
  }

  addService(spec: ServiceSpec) {
    return this.services.add(spec);
  }

  request<T>(subject: string, payload: unknown, options?: { timeoutMs?: number }) {
    return this.services.request<T>(subject, payload, options);
  }

  bucket(name: string) {
    return this.buckets.bucket(name);
  }

  follow(bucket: string, follower: Follower) {
    return this.buckets.follow(bucket, follower);
  }

  hold(bucket: string, holder: Holder) {
    return this.presence.hold(bucket, holder);
  }

  vouches() {
    return this.presence.vouches();
  }

  ensureStream(spec: StreamSpec) {
    return this.streams.ensureStream(spec);
  }

  publish(subject: string, payload: unknown, options: { msgId: string; headers?: Record<string, string> }) {
    return this.streams.publish(subject, payload, options);
  }

  consume(spec: ConsumerSpec) {
    return this.streams.consume(spec);
  }

  onReconnect(listener: () => void): void {
    this.connection.onReconnect(listener);
  }

  async close(): Promise<void> {
    // A clean stop says so: writers stop waiting for this process's copies at once.
    await this.presence.stop();
    await this.connection.close(() => this.services.stopAll());
  }
}
