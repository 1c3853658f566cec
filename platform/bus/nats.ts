import {
  AckPolicy,
  connect,
  DeliverPolicy,
  Events,
  headers as natsHeaders,
  type JetStreamClient,
  type JetStreamManager,
  type KV,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type Service,
} from 'nats';
import { DomainError, httpStatusOf } from '../errors.ts';
import type { Logger } from '../log.ts';
import { LocalCopy } from './replica.ts';
import type {
  BucketEntry,
  Bus,
  Consumer,
  ConsumerSpec,
  Replica,
  ReplicaOptions,
  ServiceHandle,
  ServiceSpec,
  SnapshotBucket,
  StreamSpec,
} from './types.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const encode = (v: unknown) => enc.encode(JSON.stringify(v ?? null));
const decode = (data: Uint8Array): unknown => (data.length === 0 ? null : JSON.parse(dec.decode(data)));
const unavailable = (what: string) => new DomainError('BUS.UNAVAILABLE', `NATS is not reachable (${what})`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Consumers of a bucket's stream that are replicas (writers wait for these), by name. */
const REPLICA_PREFIX = 'replica_';
/** How long the replica consumer of a process that died outlives it. */
const REPLICA_INACTIVE_MS = 5000;
/** A consumption with messages waiting on the server and none delivered for this long is restarted. */
const STALL_MS = 3000;

/**
 * The bus over NATS: services (micro) API for request/reply, JetStream KV for snapshot buckets,
 * JetStream streams with durable pull consumers for events.
 *
 * The process starts whether NATS is up or not. Everything a module asked for (services,
 * replicas, streams, consumers) is remembered and (re)applied on the first connection and
 * after every reconnect, so a NATS restart — even one that lost its store — heals by itself.
 * While NATS is down, requests and publishes fail fast with BUS.UNAVAILABLE; replicas keep
 * what they hold.
 */
export class NatsBus implements Bus {
  readonly kind = 'nats' as const;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private jsm: JetStreamManager | undefined;
  private isConnected = false;
  private closed = false;
  private readonly streams = new Map<string, StreamSpec>();
  private readonly services: { spec: ServiceSpec; service?: Service }[] = [];
  private readonly onConnect: (() => void)[] = [];
  private readonly stoppers = new Set<() => Promise<void>>();
  private readonly reconnectListeners: (() => void)[] = [];
  /** Names this process's consumers apart from every other process's. */
  private readonly instance = `${process.pid}_${crypto.randomUUID().slice(0, 8)}`;

  private constructor(
    private readonly namespace: string,
    private readonly log: Logger,
  ) {}

  static async connect(opts: { servers: string; namespace: string; log: Logger; name?: string; firstConnectWaitMs?: number }): Promise<NatsBus> {
    const bus = new NatsBus(opts.namespace, opts.log);
    const connecting = connect({
      servers: opts.servers.split(',').map((s) => s.trim()),
      name: opts.name ?? `moa-${process.pid}`,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      waitOnFirstConnect: true,
      pingInterval: 5000,
      timeout: 1000,
    }).then((nc) => bus.attach(nc));
    connecting.catch((error) => opts.log.error('NATS connection failed for good', { error }));
    // Wait a little for the first connection; a NATS that is down must not stop the process.
    await Promise.race([connecting, sleep(opts.firstConnectWaitMs ?? 2000)]);
    if (!bus.isConnected) opts.log.warn('NATS not reachable at start; running on local state until it is', { servers: opts.servers });
    return bus;
  }

  get connected() {
    return this.isConnected && !this.closed;
  }

  private subject(s: string) {
    return this.namespace ? `${this.namespace}.${s}` : s;
  }

  private named(s: string) {
    return this.namespace ? `${this.namespace}_${s}` : s;
  }

  private async attach(nc: NatsConnection) {
    this.nc = nc;
    this.js = nc.jetstream();
    this.jsm = await nc.jetstreamManager();
    this.isConnected = true;
    this.log.info('NATS connected', { server: nc.getServer() });
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === Events.Disconnect) {
          this.isConnected = false;
          this.log.warn('NATS disconnected');
        } else if (s.type === Events.Reconnect) {
          this.isConnected = true;
          this.log.info('NATS reconnected');
          await this.restoreStreams();
          // One failing listener must not keep the others (or later status events) from running.
          for (const l of this.reconnectListeners) {
            try {
              l();
            } catch (error) {
              this.log.warn('reconnect listener failed', { error: error as Error });
            }
          }
        }
      }
    })();
    await this.restoreStreams();
    for (const s of this.services) await this.startService(s);
    for (const f of this.onConnect.splice(0)) f();
  }

  /** Resolves once connected (immediately when connected). */
  private whenConnected(): Promise<void> {
    if (this.nc) return Promise.resolve();
    return new Promise((resolve) => this.onConnect.push(resolve));
  }

  /** Re-creates the streams this process declared: a NATS re-created without its store lost them. */
  private async restoreStreams() {
    for (const spec of this.streams.values()) {
      await this.createStream(spec).catch((error) => this.log.warn('could not ensure stream', { stream: spec.name, error }));
    }
  }

  // ---- request/reply -------------------------------------------------------------------

  async addService(spec: ServiceSpec): Promise<ServiceHandle> {
    const entry: { spec: ServiceSpec; service?: Service } = { spec };
    this.services.push(entry);
    if (this.nc) await this.startService(entry);
    return {
      stop: async () => {
        this.services.splice(this.services.indexOf(entry), 1);
        await entry.service?.stop().catch(() => {});
      },
    };
  }

  private async startService(entry: { spec: ServiceSpec; service?: Service }) {
    const { spec } = entry;
    const service = await this.nc!.services.add({ name: spec.name, version: spec.version, description: spec.description, queue: 'q' });
    for (const e of spec.endpoints) {
      service.addEndpoint(e.name, {
        subject: this.subject(e.subject),
        queue: 'q',
        // One callback per message: a failing message never ends the endpoint.
        handler: (err, msg) => {
          if (err) {
            this.log.warn('service endpoint error', { subject: e.subject, error: err });
            return;
          }
          void (async () => {
            try {
              const payload = decode(msg.data);
              msg.respond(encode(await e.handler(payload)));
            } catch (error) {
              if (error instanceof DomainError) {
                msg.respondError(httpStatusOf[error.kind], `${error.code}: ${error.message}`);
              } else if (error instanceof SyntaxError) {
                msg.respondError(400, `BUS.INVALID: payload is not JSON`);
              } else {
                this.log.error('service handler failed', { subject: e.subject, error: error as Error });
                msg.respondError(500, `BUS.INTERNAL: ${(error as Error)?.message ?? 'internal error'}`);
              }
            }
          })();
        },
      });
    }
    entry.service = service;
  }

  async request<T>(subject: string, payload: unknown, options: { timeoutMs?: number } = {}): Promise<T> {
    if (!this.connected || !this.nc) throw unavailable(`request ${subject}`);
    const timeout = options.timeoutMs ?? 2000;
    let msg;
    try {
      msg = await this.nc.request(this.subject(subject), encode(payload), { timeout });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '503') throw new DomainError('BUS.NO_RESPONDERS', `no service answers ${subject}`);
      if (code === 'TIMEOUT') throw new DomainError('BUS.TIMEOUT', `${subject} did not answer within ${timeout} ms`);
      throw unavailable(`request ${subject}: ${(error as Error).message}`);
    }
    const errorCode = msg.headers?.get('Nats-Service-Error-Code');
    if (errorCode) {
      const description = msg.headers?.get('Nats-Service-Error') ?? '';
      const m = /^([A-Z_]+\.[A-Z_]+): ([\s\S]*)$/.exec(description);
      throw new DomainError(m ? m[1]! : 'BUS.INTERNAL', m ? m[2]! : description);
    }
    return decode(msg.data) as T;
  }

  // ---- snapshot buckets ----------------------------------------------------------------

  private async kv(name: string): Promise<KV> {
    if (!this.js) throw unavailable(`bucket ${name}`);
    return this.js.views.kv(this.named(name), { history: 1, storage: StorageType.File });
  }

  async bucket(name: string): Promise<SnapshotBucket> {
    const guard = async () => {
      if (!this.connected) throw unavailable(`bucket ${name}`);
      return this.kv(name);
    };
    return {
      name,
      put: async (key, value) => (await guard()).put(key, encode(value)),
      get: async (key): Promise<BucketEntry | null> => {
        const e = await (await guard()).get(key);
        if (!e || e.operation !== 'PUT') return null;
        return { key, value: decode(e.value), revision: e.revision };
      },
      // What kv.delete does, keeping the acknowledgement: its sequence is the deletion's revision.
      delete: async (key) => {
        await guard();
        const h = natsHeaders();
        h.set('KV-Operation', 'DEL');
        return (await this.js!.publish(`$KV.${this.named(name)}.${key}`, new Uint8Array(0), { headers: h })).seq;
      },
      keys: async () => {
        const out: string[] = [];
        for await (const k of await (await guard()).keys()) out.push(k);
        return out;
      },
      settled: (revision, timeoutMs) => this.replicasSettled(name, revision, timeoutMs),
    };
  }

  /**
   * Every replica of a bucket is a durable consumer of the bucket's stream named
   * `replica_<bucket>_<process>`, which acknowledges an entry after applying it. A revision has
   * reached every live copy once each such consumer's acknowledged floor is at or past it, or it
   * has nothing left to deliver. (A consumer of a dead process disappears after
   * REPLICA_INACTIVE_MS; until then a writer waits for it no longer than its timeout.)
   */
  private async replicasSettled(bucket: string, revision: number, timeoutMs: number): Promise<boolean> {
    const stream = `KV_${this.named(bucket)}`;
    const deadline = Date.now() + timeoutMs;
    while (this.connected && this.jsm) {
      try {
        const consumers = await withTimeout(this.jsm.consumers.list(stream).next(), Math.max(1, deadline - Date.now()));
        const behind = consumers.some(
          (c) => c.name.startsWith(REPLICA_PREFIX) && c.ack_floor.stream_seq < revision && (c.num_pending > 0 || c.num_ack_pending > 0),
        );
        if (!behind) return true;
      } catch {
        return false;
      }
      if (Date.now() >= deadline) return false;
      await sleep(1);
    }
    return false;
  }

  async replica<T>(bucket: string, options: ReplicaOptions<T>): Promise<Replica<T>> {
    let stopped = false;
    let current: { stop(): void } | undefined;
    const stream = `KV_${this.named(bucket)}`;
    const prefix = `$KV.${this.named(bucket)}.`;
    const durable = `${REPLICA_PREFIX}${bucket}_${this.instance}`;
    const copy: LocalCopy<T> = new LocalCopy<T>(bucket, options, this.log, async () => {
      stopped = true;
      current?.stop();
      // Writers wait for every replica consumer: leave none behind on a clean stop.
      if (this.connected) await this.jsm?.consumers.delete(stream, durable).catch(() => {});
    });

    // One consumption at a time; when it ends (disconnect, consumer or stream gone) start
    // another: our durable resumes at its acknowledged floor; a new one starts after the last
    // revision applied, or — for a new copy, or a stream that was reset — at the last value of
    // every key (the warm-up).
    let streamCreated: string | undefined;
    const run = async () => {
      await this.whenConnected();
      while (!stopped && !this.closed) {
        try {
          if (!this.connected) {
            await sleep(200);
            continue;
          }
          await this.kv(bucket); // creates the bucket when nobody has yet
          const info = await this.jsm!.streams.info(stream);
          if ((streamCreated && info.created !== streamCreated) || info.state.last_seq < copy.revision) {
            this.log.warn('snapshot bucket was reset; starting the copy over', { bucket });
            copy.reset();
            await this.jsm!.consumers.delete(stream, durable).catch(() => {});
          }
          streamCreated = info.created;
          let state: { num_pending: number; num_ack_pending: number };
          try {
            state = await this.jsm!.consumers.info(stream, durable);
          } catch {
            state = await this.jsm!.consumers.add(stream, {
              durable_name: durable,
              ack_policy: AckPolicy.Explicit,
              filter_subject: `${prefix}>`,
              inactive_threshold: nanos(REPLICA_INACTIVE_MS),
              // Applying an entry takes microseconds: one lost in flight comes again soon.
              ack_wait: nanos(3_000),
              max_deliver: -1,
              ...(copy.revision > 0
                ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: copy.revision + 1 }
                : { deliver_policy: DeliverPolicy.LastPerSubject }),
            });
          }
          if (state.num_pending === 0 && state.num_ack_pending === 0) copy.markReady();
          const messages = await (await this.js!.consumers.get(stream, durable)).consume({ max_messages: 256 });
          current = messages;
          let lastDelivery = Date.now();
          const health = setInterval(async () => {
            if (!this.connected) return;
            try {
              const now = await this.jsm!.streams.info(stream);
              if (now.created !== streamCreated || now.state.last_seq < copy.revision) messages.stop();
              // Entries wait on the server but none has come for a while: the pull is stuck.
              else if ((await this.jsm!.consumers.info(stream, durable)).num_pending > 0 && Date.now() - lastDelivery > STALL_MS) messages.stop();
            } catch {
              messages.stop(); // the stream or the consumer is gone: set them up again
            }
          }, 1000);
          try {
            for await (const m of messages) {
              lastDelivery = Date.now();
              const op = m.headers?.get('KV-Operation');
              copy.apply(m.subject.slice(prefix.length), op === 'DEL' || op === 'PURGE' ? null : decode(m.data), m.seq);
              m.ack();
              if (m.info.pending === 0) copy.markReady();
            }
          } finally {
            clearInterval(health);
          }
        } catch (error) {
          if (!stopped) this.log.debug('snapshot replica interrupted', { bucket, error: error as Error });
        }
        if (!stopped) await sleep(250);
      }
    };
    // No restart on reconnect: nats.js's consume() checks its consumer and pulls again by itself.
    // Stopping it then raced with that pull, and the entries the server delivered into the
    // stopped consumption waited out their ack_wait before coming again.
    void run();
    this.stoppers.add(() => copy.stop());
    if (this.connected) await copy.waitReady(2000);
    return copy;
  }

  // ---- streams -------------------------------------------------------------------------

  async ensureStream(spec: StreamSpec): Promise<void> {
    this.streams.set(spec.name, spec);
    if (this.connected) await this.createStream(spec);
  }

  private async createStream(spec: StreamSpec) {
    const config = {
      name: this.named(spec.name),
      subjects: spec.subjects.map((s) => this.subject(s)),
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: nanos(120_000),
      max_age: nanos(7 * 24 * 3600_000),
    };
    try {
      await this.jsm!.streams.info(config.name);
      await this.jsm!.streams.update(config.name, config);
    } catch (error) {
      if ((error as { code?: string }).code === '404' || /stream not found/i.test((error as Error).message)) {
        await this.jsm!.streams.add(config);
      } else throw error;
    }
  }

  async publish(subject: string, payload: unknown, { msgId }: { msgId: string }): Promise<void> {
    if (!this.connected || !this.js) throw unavailable(`publish ${subject}`);
    const h = natsHeaders();
    h.set('Nats-Msg-Id', msgId);
    try {
      await this.js.publish(this.subject(subject), encode(payload), { msgID: msgId, headers: h, timeout: 2000 });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '503') {
        // No stream captures it: maybe NATS lost its store. Re-create what we declared; the
        // caller (the outbox relay) tries again.
        await this.restoreStreams();
        throw new DomainError('BUS.NO_RESPONDERS', `no stream captures ${subject}`);
      }
      throw unavailable(`publish ${subject}: ${(error as Error).message}`);
    }
  }

  async consume(spec: ConsumerSpec): Promise<Consumer> {
    let stopped = false;
    let current: { stop(): void; close?(): Promise<void | Error> } | undefined;
    const stream = this.named(spec.stream);
    const ensureConsumer = async () => {
      if (!this.streams.has(spec.stream)) throw new Error(`stream ${spec.stream} was not declared with ensureStream`);
      await this.createStream(this.streams.get(spec.stream)!);
      try {
        await this.jsm!.consumers.info(stream, spec.durable);
      } catch {
        await this.jsm!.consumers.add(stream, {
          durable_name: spec.durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: spec.filterSubject ? this.subject(spec.filterSubject) : undefined,
          // Handlers are a few queries: an event lost in flight (or a stuck handler) comes again
          // after this, and handlers are idempotent.
          ack_wait: nanos(10_000),
          max_deliver: -1,
        });
      }
    };
    const run = async () => {
      await this.whenConnected();
      while (!stopped && !this.closed) {
        try {
          if (!this.connected) {
            await sleep(200);
            continue;
          }
          await ensureConsumer();
          const consumer = await this.js!.consumers.get(stream, spec.durable);
          const messages = await consumer.consume({ max_messages: 64, expires: 2000 });
          current = messages;
          let lastDelivery = Date.now();
          const watchdog = setInterval(async () => {
            if (!this.connected) return;
            try {
              // Events wait on the server but none has come for a while: the pull is stuck.
              const info = await this.jsm!.consumers.info(stream, spec.durable);
              if (info.num_pending > 0 && Date.now() - lastDelivery > STALL_MS) messages.stop();
            } catch {
              messages.stop(); // the consumer (or its stream) is gone: set it up again
            }
          }, 1000);
          try {
            for await (const m of messages) {
              lastDelivery = Date.now();
              if (stopped) break;
              const attempt = m.info.redeliveryCount;
              const msgId = m.headers?.get('Nats-Msg-Id') ?? String(m.seq);
              try {
                await spec.handler({ subject: m.subject, msgId, payload: decode(m.data), seq: m.seq, attempt });
                m.ack();
              } catch (error) {
                this.log.warn('event handler failed; will redeliver', { subject: m.subject, msgId, attempt, error: error as Error });
                m.nak(Math.min(100 * 2 ** attempt, 5000));
              }
            }
          } finally {
            clearInterval(watchdog);
          }
        } catch (error) {
          if (!stopped) this.log.debug('consumer interrupted', { stream: spec.stream, error: error as Error });
        }
        if (!stopped) await sleep(250);
      }
    };
    void run(); // (resumes by itself after a reconnect, as the replicas do)
    const stop = async () => {
      stopped = true;
      current?.stop();
    };
    this.stoppers.add(stop);
    return {
      caughtUp: async (timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        while (this.connected && Date.now() <= deadline) {
          try {
            const info = await withTimeout(this.jsm!.consumers.info(stream, spec.durable), Math.max(1, deadline - Date.now()));
            if (info.num_pending === 0 && info.num_ack_pending === 0) return true;
          } catch {
            return false;
          }
          await sleep(10);
        }
        return false;
      },
      stop,
    };
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const stop of this.stoppers) await stop().catch(() => {});
    for (const s of this.services) await s.service?.stop().catch(() => {});
    await this.nc?.drain().catch(() => this.nc?.close());
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms))),
  ]).finally(() => clearTimeout(timer));
}
