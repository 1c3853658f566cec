import { hostname } from 'node:os';
import {
  AckPolicy,
  connect,
  DeliverPolicy,
  Events,
  headers as natsHeaders,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type KV,
  type NatsConnection,
  nanos,
  RetentionPolicy,
  StorageType,
  type Service,
} from 'nats';
import { databaseError, DomainError, httpStatusOf } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import { detached, inbound, outgoingHeaders } from '../observability/request-context.ts';
import type {
  BucketEntry,
  Bus,
  Consumer,
  ConsumerSpec,
  Drop,
  Handed,
  Follower,
  ServiceHandle,
  ServiceSpec,
  SnapshotBucket,
  Stoppable,
  StreamSpec,
} from './types.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const encode = (v: unknown) => enc.encode(JSON.stringify(v ?? null));
const decode = (data: Uint8Array): unknown => (data.length === 0 ? null : JSON.parse(dec.decode(data)));
const unavailable = (what: string) => new DomainError('BUS.UNAVAILABLE', `NATS is not reachable (${what})`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const EMPTY = new Uint8Array(0);
/** How long a bucket write waits for the leader's acknowledgement (a write's budget is 1 s). */
const WRITE_TIMEOUT_MS = 300;
/** A direct get's try (sub-millisecond when answered) and all of a read (a copy waits 500 ms). */
const DIRECT_TRY_MS = 100;
const READ_BUDGET_MS = 480;

type ReadEntry = { value: unknown; revision: number; deleted: boolean } | 'missing';

/** A direct get's answer: the message itself, its sequence and operation in the headers. */
function directEntry(key: string, h: ReturnType<typeof natsHeaders> | undefined, data: Uint8Array): ReadEntry {
  if (h?.hasError) {
    if (h.code === 404) return 'missing';
    throw unavailable(`get ${key}: ${h.code} ${h.description}`);
  }
  const op = h?.get('KV-Operation');
  const deleted = op === 'DEL' || op === 'PURGE';
  return { value: deleted ? null : decode(data), revision: Number(h?.get('Nats-Sequence')), deleted };
}

/** The leader's `STREAM.MSG.GET` answer: JSON with the message's headers and data in base64. */
function storedEntry(key: string, data: Uint8Array): ReadEntry {
  const answer = decode(data) as { message?: { seq: number; hdrs?: string; data?: string }; error?: { code: number; description: string } };
  if (answer.error) {
    if (answer.error.code === 404) return 'missing';
    throw unavailable(`get ${key}: ${answer.error.code} ${answer.error.description}`);
  }
  const m = answer.message!;
  const headers = m.hdrs ? Buffer.from(m.hdrs, 'base64').toString('utf8') : '';
  const deleted = /^KV-Operation:\s*(DEL|PURGE)\s*$/im.test(headers);
  return { value: deleted || !m.data ? null : decode(Buffer.from(m.data, 'base64')), revision: m.seq, deleted };
}
/** A consumption with messages waiting on the server and none delivered for this long is restarted. */
const STALL_MS = 3000;
/** Events handled together at most (a consumer's `handleBatch`). */
const MAX_BATCH = 500;
/** How often a barrier looks at a consumer that other processes share, when this one did not move. */
const CAUGHT_UP_LOOK_MS = 25;
/** Where processes say which buckets they hold keys of (see `hold`). */
const HOLDERS_BUCKET = 'copy_holders';
const HOLDER_HEARTBEAT_MS = 10_000;
const HOLDER_TTL_MS = 30_000;
/** One try of a settle request (a holder answers within a millisecond or two). */
const SETTLE_TRY_MS = 250;
/** How long a holder that was seen lately but has no subscription is asked again (see settle). */
const MOVING_GRACE_MS = 400;
/** Subject prefix of the requests that tell a holder to drop keys: `_COPIES.<process>`. */
const SETTLE_PREFIX = '_COPIES';
/** The key `putMany` writes before and after a bulk write (copies ignore keys starting with `_`). */
const BARRIER_KEY = '_barrier';

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
  /** Names this process apart from every other process on the bus (holders, consumers). */
  readonly instance = `${process.pid}_${crypto.randomUUID().slice(0, 8)}`;

  private constructor(
    private readonly namespace: string,
    private readonly log: Logger,
    /** Replicas of every bucket and stream this process creates. */
    private readonly replicas: number,
  ) {}

  static async connect(opts: {
    servers: string;
    namespace: string;
    log: Logger;
    name?: string;
    firstConnectWaitMs?: number;
    replicas?: number;
  }): Promise<NatsBus> {
    const bus = new NatsBus(opts.namespace, opts.log, opts.replicas ?? 1);
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

  private readonly connectionWaiters = new Set<() => void>();
  disconnectedAt: number | undefined;

  awaitConnection(timeoutMs: number): Promise<boolean> {
    if (this.connected) return Promise.resolve(true);
    if (this.closed) return Promise.resolve(false);
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

  private subject(s: string) {
    return this.namespace ? `${this.namespace}.${s}` : s;
  }

  private named(s: string) {
    return this.namespace ? `${this.namespace}_${s}` : s;
  }

  private async attach(nc: NatsConnection) {
    this.nc = nc;
    // A JetStream answer that does not come within these bounds is a 503, not a hang.
    this.js = nc.jetstream({ timeout: 1000 });
    // No account-info request first: a cluster electing its leaders may not answer it for
    // seconds, and the connection is up regardless (every JetStream call has its own timeout).
    this.jsm = await nc.jetstreamManager({ timeout: 2000, checkAPI: false });
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
          // NATS may have lost its store: views are opened (and buckets made) again.
          this.kvs.clear();
          this.presenceView = undefined;
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
          void this.announce();
          await this.restoreStreams();
        }
      }
    })();
    await this.restoreStreams();
    for (const s of this.services) await this.startService(s);
    if (this.held.size > 0) {
      this.subscribeSettle();
      void this.announce();
    }
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
        metadata: e.metadata,
        // One callback per message: a failing message never ends the endpoint.
        handler: (err, msg) => {
          if (err) {
            this.log.warn('service endpoint error', { subject: e.subject, error: err });
            return;
          }
          void (async () => {
            try {
              const payload = decode(msg.data);
              const reply = await inbound('request', e.subject, (name) => msg.headers?.get(name), this.log, () => e.handler(payload));
              msg.respond(encode(reply));
            } catch (thrown) {
              // A database that cannot serve is a 503 to the caller too, not an internal error.
              const error = databaseError(thrown);
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
      msg = await this.nc.request(this.subject(subject), encode(payload), { timeout, headers: headersOf(outgoingHeaders()) });
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

  /** KV views by bucket: opening one asks for the stream's info, so it is done once a connection. */
  private kvs = new Map<string, Promise<KV>>();
  /** Buckets this process has opened (so they exist, unless NATS lost them since). */
  private readonly opened = new Set<string>();

  private kv(name: string): Promise<KV> {
    if (!this.js) return Promise.reject(unavailable(`bucket ${name}`));
    let view = this.kvs.get(name);
    if (!view) {
      view = this.js.views
        .kv(this.named(name), { history: 1, storage: StorageType.File, replicas: this.replicas })
        .then(async (kv) => {
          this.opened.add(name);
          await this.applyReplicas(`KV_${this.named(name)}`);
          return kv;
        });
      view.catch(() => this.kvs.delete(name));
      this.kvs.set(name, view);
    }
    return view;
  }

  async bucket(name: string): Promise<SnapshotBucket> {
    void this.watchHolders();
    // Made (or given this process's replicas) now, in the background: reads and writes do not
    // wait for it (opening a view needs the bucket's leader).
    if (this.connected) this.kv(name).catch(() => {});
    const guard = async () => {
      if (!this.connected) throw unavailable(`bucket ${name}`);
      return this.kv(name);
    };
    const subjectOf = (key: string) => `$KV.${this.named(name)}.${key}`;
    const del = () => {
      const h = natsHeaders();
      h.set('KV-Operation', 'DEL');
      return h;
    };
    // Stored after everything sent before it: under a bulk write it may wait a while.
    const barrier = async () => (await this.js!.publish(subjectOf(BARRIER_KEY), EMPTY, { timeout: 10_000 })).seq;
    const stream = `KV_${this.named(name)}`;
    // A write is a publish the bucket's leader acknowledges (what kv.put and kv.delete do, without
    // opening the view first: that asks the leader for the stream's info, and while a cluster
    // elects one nobody answers). Bounded well inside a write's budget, so that a write the
    // bucket cannot take now still leaves time to hand its value to the holders (settle).
    const write = async (key: string, data: Uint8Array, headers?: ReturnType<typeof natsHeaders>) => {
      if (!this.connected || !this.js) throw unavailable(`bucket ${name}`);
      const publish = () => this.js!.publish(subjectOf(key), data, { headers, timeout: WRITE_TIMEOUT_MS });
      try {
        return (await publish()).seq;
      } catch (error) {
        const code = (error as { code?: string }).code;
        // No stream answers: in a cluster, the bucket has no leader right now (fail fast: the
        // relay hands the value to the holders) — or it is gone (deleted, NATS lost its store):
        // open (make) it again in the background, for the next try.
        if (code === '503' && this.opened.has(name)) {
          this.kvs.delete(name);
          this.kv(name).catch(() => {});
        }
        if (code !== '503' || this.opened.has(name)) throw unavailable(`write ${name}.${key}: ${(error as Error).message}`);
      }
      // Never opened by this process: nobody may have made it yet. Make it and try once more.
      try {
        await withTimeout(this.kv(name), WRITE_TIMEOUT_MS);
        return (await publish()).seq;
      } catch (error) {
        throw unavailable(`write ${name}.${key}: ${(error as Error).message}`);
      }
    };
    const request = async (subject: string, body: unknown, timeout: number) => {
      try {
        return await this.nc!.request(subject, encode(body), { timeout });
      } catch (error) {
        // No stream answers: nobody has made the bucket yet, so it holds nothing — unless this
        // process has seen it: then no replica answers right now (try again), or NATS lost it.
        // Either way it is opened (made) again, once at a time.
        if ((error as { code?: string }).code === '503') {
          this.kv(name).catch(() => {});
          if (!this.opened.has(name)) return null;
        }
        throw error;
      }
    };
    return {
      name,
      put: (key, value) => write(key, encode(value)),
      // A direct get of the key's last message, read as it comes: the hot path of every copy's
      // miss (nats.js's kv.get builds several objects per call on top of this). Any replica
      // answers (allow_direct), so a read needs no leader; one that is behind a write the caller
      // was told of is asked again, then the leader is.
      get: async (key, options = {}): Promise<BucketEntry | null> => {
        if (!this.connected || !this.nc) throw unavailable(`bucket ${name}`);
        const min = options.minRevision ?? 0;
        const last = { last_by_subj: subjectOf(key) };
        const deadline = Date.now() + READ_BUDGET_MS;
        let failure: unknown;
        // A replica that just went away (a node killed with the request in flight) never answers:
        // each try is short, and the next one goes to another replica (the queue group picks).
        for (let attempt = 0; Date.now() < deadline; attempt++) {
          // Direct, direct, then the leader and a replica in turn (the leader first when asked).
          const leader = options.fromLeader ? attempt % 2 === 0 : attempt >= 2 && attempt % 2 === 0;
          const timeout = Math.max(1, Math.min(DIRECT_TRY_MS, deadline - Date.now()));
          try {
            const msg = leader ? await request(`$JS.API.STREAM.MSG.GET.${stream}`, last, timeout) : await request(`$JS.API.DIRECT.GET.${stream}`, last, timeout);
            if (!msg) return null;
            const entry = leader ? storedEntry(key, msg.data) : directEntry(key, msg.headers, msg.data);
            // (a replica behind a write may not have the key at all yet)
            if (entry === 'missing' ? leader || min === 0 : leader || entry.revision >= min) {
              return entry === 'missing' || entry.deleted ? null : { key, value: entry.value, revision: entry.revision };
            }
            // Behind a write the caller was told of: this replica has not applied it yet.
            await sleep(5 * (attempt + 1));
          } catch (error) {
            if (error instanceof DomainError) throw error;
            failure = error;
            if (!this.connected) break;
            if ((error as { code?: string }).code === '503') await sleep(20);
          }
        }
        throw unavailable(`get ${name}.${key}: ${(failure as Error | undefined)?.message ?? 'no replica had the write in time'}`);
      },
      delete: (key) => write(key, EMPTY, del()),
      // Plain publishes between two acknowledged ones: one connection's messages are stored in
      // order, so when the second is stored, so is every one before it — unless the stream
      // refused some (its limits), which the sequence numbers tell. Five times as fast as
      // waiting for each acknowledgement; what the check doubts is written again, acknowledged.
      putMany: async (entries) => {
        await guard();
        const before = await barrier();
        for (const [i, e] of entries.entries()) {
          if (e.value === null) this.nc!.publish(subjectOf(e.key), EMPTY, { headers: del() });
          else this.nc!.publish(subjectOf(e.key), encode(e.value));
          // Let requests in between: a bulk write must not hold up the process's answers.
          if (i % 500 === 499) await new Promise((r) => setImmediate(r));
        }
        const after = await barrier();
        if (after - before - 1 >= entries.length) return;
        this.log.warn('a bulk write was not stored whole; writing it again one by one', { bucket: name, entries: entries.length });
        await Promise.all(
          entries.map((e) => (e.value === null ? this.js!.publish(subjectOf(e.key), EMPTY, { headers: del() }) : this.js!.publish(subjectOf(e.key), encode(e.value)))),
        );
      },
      keys: (batch) => this.keyBatches(name, guard, batch),
      entries: (batch) => this.entryBatches(name, guard, batch),
      settle: (keys, revision, timeoutMs, values) => this.settle(name, keys, revision, timeoutMs, values),
      size: async () => {
        await guard();
        return (await this.jsm!.streams.info(`KV_${this.named(name)}`)).state.messages;
      },
    };
  }

  private async *keyBatches(name: string, guard: () => Promise<KV>, size: number): AsyncIterable<string[]> {
    let batch: string[] = [];
    for await (const key of await (await guard()).keys()) {
      if (key.startsWith('_')) continue;
      batch.push(key);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** The last value of every key, from a watch that ends once it has delivered them. */
  private async *entryBatches(name: string, guard: () => Promise<KV>, size: number): AsyncIterable<BucketEntry[]> {
    const kv = await guard();
    if ((await this.jsm!.streams.info(`KV_${this.named(name)}`)).state.messages === 0) return;
    const watch = await kv.watch({ key: '>' });
    let batch: BucketEntry[] = [];
    try {
      for await (const e of watch) {
        if (!e.key.startsWith('_') && e.operation === 'PUT') batch.push({ key: e.key, value: decode(e.value), revision: e.revision });
        if (batch.length >= size) {
          yield batch;
          batch = [];
        }
        // `delta`: how many of the last values are still to come.
        if (!e.delta) break;
      }
      if (batch.length > 0) yield batch;
    } finally {
      watch.stop();
    }
  }

  /**
   * Follows a bucket through an ordered consumer that starts with the next change, headers only
   * (the key, the revision, whether it was a deletion). It is made
   * again after every reconnect and whenever a consumption ends; each time, once the new one is
   * in place, the follower is told to reset — so nothing that happened meanwhile is missed.
   */
  async follow(bucket: string, follower: Follower): Promise<Stoppable> {
    let stopped = false;
    let current: { stop(): void } | undefined;
    const stream = `KV_${this.named(bucket)}`;
    const prefix = `$KV.${this.named(bucket)}.`;
    // After a reconnect the feed of changes may have a gap: what the follower holds is dropped
    // at once (not only once the new consumer is in place), and the consumer made again.
    const restart = () => {
      if (!stopped) follower.reset();
      current?.stop();
    };
    let inPlace: () => void = () => {};
    const first = new Promise<void>((resolve) => (inPlace = resolve));
    const run = async () => {
      await this.whenConnected();
      while (!stopped && !this.closed) {
        try {
          if (!this.connected) {
            await sleep(200);
            continue;
          }
          await this.kv(bucket); // creates the bucket when nobody has yet
          const consumer = await this.js!.consumers.get(stream, { deliver_policy: DeliverPolicy.New, filterSubjects: `${prefix}>`, headers_only: true });
          const messages = await consumer.consume({ max_messages: 512 });
          current = messages;
          if (stopped) break;
          follower.reset();
          inPlace();
          for await (const m of messages) {
            const op = m.headers?.get('KV-Operation');
            follower.change({ key: m.subject.slice(prefix.length), deleted: op === 'DEL' || op === 'PURGE', revision: m.seq, storedAt: m.info.timestampNanos / 1e6 });
          }
        } catch (error) {
          if (!stopped) this.log.debug('following a bucket was interrupted', { bucket, error: error as Error });
        }
        if (!stopped) await sleep(100);
      }
    };
    this.reconnectListeners.push(restart);
    detached(run);
    const stop = async () => {
      stopped = true;
      current?.stop();
      this.reconnectListeners.splice(this.reconnectListeners.indexOf(restart), 1);
    };
    this.stoppers.add(stop);
    // Resolve once the first consumer is in place (its reset done), so that what the follower
    // learns from now on is not dropped by that reset; NATS being down must not hold up a start.
    if (this.connected) await Promise.race([first, sleep(2000)]);
    return { stop };
  }

  // ---- holders: who must drop a key before a write is answered --------------------------
  //
  // A process that holds keys of a bucket says so in the `copy_holders` bucket (key
  // `<bucket>.<process>`, refreshed every HOLDER_HEARTBEAT_MS, gone HOLDER_TTL_MS after the
  // process stops refreshing it) and answers `_COPIES.<process>` requests by dropping the keys
  // named. A writer watches `copy_holders` and asks each holder of the bucket it wrote. A holder
  // that is gone has no subscription left: NATS says "no responders" at once.

  private presenceView: Promise<KV> | undefined;

  private presence(): Promise<KV> {
    if (!this.presenceView) {
      const view = this.js!.views
        .kv(this.named(HOLDERS_BUCKET), { history: 1, ttl: HOLDER_TTL_MS, storage: StorageType.Memory, replicas: this.replicas })
        .then(async (kv) => (await this.applyReplicas(`KV_${this.named(HOLDERS_BUCKET)}`), kv));
      view.catch(() => {
        if (this.presenceView === view) this.presenceView = undefined;
      });
      this.presenceView = view;
    }
    return this.presenceView;
  }

  /**
   * A bucket made before NATS_REPLICAS changed (or by a process with another setting) gets this
   * process's replicas: `views.kv` leaves an existing bucket as it is. Done once a connection.
   */
  private async applyReplicas(stream: string) {
    const info = await this.jsm!.streams.info(stream);
    if ((info.config.num_replicas || 1) === this.replicas && info.config.allow_direct) return;
    this.log.info('changing the replicas of a bucket', { stream, from: info.config.num_replicas, to: this.replicas });
    // Direct gets answered by any replica: a read needs no leader (see the copies' floor).
    await this.jsm!.streams.update(stream, { num_replicas: this.replicas, allow_direct: true });
  }

  private holdersReady: Promise<void> | undefined;

  private watchHolders(): Promise<void> {
    this.holdersReady ??= new Promise<void>((ready) => {
      detached(async () => {
        await this.whenConnected();
        while (!this.closed) {
          try {
            if (!this.connected) {
              await sleep(200);
              continue;
            }
            const seen = new Map<string, Map<string, number>>();
            const watch = await (await this.presence()).watch({ key: '>', initializedFn: () => ((this.holders = seen), ready()) });
            const restart = () => watch.stop();
            this.reconnectListeners.push(restart);
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
              this.reconnectListeners.splice(this.reconnectListeners.indexOf(restart), 1);
            }
          } catch (error) {
            this.log.debug('watching the copy holders was interrupted', { error: error as Error });
            // The bucket may be gone (deleted, NATS lost its store): open (make) it again.
            this.presenceView = undefined;
          }
          await sleep(200);
        }
      });
    });
    return this.holdersReady;
  }

  private holders = new Map<string, Map<string, number>>();
  private readonly held = new Map<string, Set<Drop>>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  private async settle(bucket: string, keys: string[], revision: number, timeoutMs: number, values?: Record<string, Handed>): Promise<boolean> {
    if (!this.connected || !this.nc) return false;
    const deadline = Date.now() + timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.watchHolders(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]).finally(() => clearTimeout(timer));
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
            await this.nc!.request(this.subject(`${SETTLE_PREFIX}.${instance}`), payload, { timeout: Math.max(1, Math.min(SETTLE_TRY_MS, left)) });
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
        this.log.warn('a copy holder did not confirm a write in time', { bucket, instance, revision });
        return false;
      }),
    );
    return answers.every(Boolean);
  }

  async hold(bucket: string, drop: Drop): Promise<Stoppable> {
    let drops = this.held.get(bucket);
    if (!drops) this.held.set(bucket, (drops = new Set()));
    drops.add(drop);
    if (!this.settleSubscription && this.nc) this.subscribeSettle();
    this.heartbeat ??= setInterval(() => void this.announce(), HOLDER_HEARTBEAT_MS);
    if (this.connected) await this.announce([bucket]);
    return {
      stop: async () => {
        drops.delete(drop);
        if (drops.size > 0) return;
        this.held.delete(bucket);
        if (this.connected) await (await this.presence()).delete(`${bucket}.${this.instance}`).catch(() => {});
      },
    };
  }

  private settleSubscription: { unsubscribe(): void } | undefined;

  private subscribeSettle() {
    this.settleSubscription = this.nc!.subscribe(this.subject(`${SETTLE_PREFIX}.${this.instance}`), {
      callback: (err, msg) => {
        if (err) return;
        try {
          const { bucket, keys, revision, values } = decode(msg.data) as { bucket: string; keys: string[]; revision: number; values?: Record<string, Handed> };
          for (const drop of this.held.get(bucket) ?? []) drop(keys, revision, values ?? undefined);
        } catch (error) {
          this.log.warn('a settle request could not be read', { error: error as Error });
        }
        msg.respond(EMPTY);
      },
    });
  }

  /** Says (again) that this process holds keys of these buckets. */
  private async announce(buckets: Iterable<string> = this.held.keys()) {
    if (!this.connected) return;
    try {
      const kv = await this.presence();
      const value = encode({ pid: process.pid, host: hostname() });
      await Promise.all([...buckets].map((b) => kv.put(`${b}.${this.instance}`, value)));
    } catch (error) {
      this.log.warn('could not announce the copies this process holds', { error: error as Error });
      this.presenceView = undefined;
    }
  }

  // ---- streams -------------------------------------------------------------------------

  async ensureStream(spec: StreamSpec): Promise<void> {
    this.streams.set(spec.name, spec);
    if (!this.connected) return;
    // A cluster that is forming or electing a leader may not answer in time: that must not stop
    // the process. Publishes and consumers make the stream again when they need it; until one
    // exists, this tries every second.
    await this.createStream(spec).catch((error) => {
      this.log.warn('could not ensure a stream; trying again', { stream: spec.name, error: error as Error });
      const retry = setInterval(() => {
        if (this.closed) return clearInterval(retry);
        if (!this.connected) return;
        this.createStream(spec).then(
          () => clearInterval(retry),
          () => {},
        );
      }, 1000);
    });
  }

  private async createStream(spec: StreamSpec) {
    const config = {
      name: this.named(spec.name),
      subjects: spec.subjects.map((s) => this.subject(s)),
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      num_replicas: this.replicas,
      duplicate_window: nanos(120_000),
      max_age: nanos(7 * 24 * 3600_000),
    };
    try {
      const { config: now } = await this.jsm!.streams.info(config.name);
      // Changed only when it differs (NATS_REPLICAS applied to a stream made before): an update
      // is a cluster-wide operation, and a consumer restart must not cost one.
      const same =
        (now.num_replicas || 1) === config.num_replicas &&
        now.max_age === config.max_age &&
        now.duplicate_window === config.duplicate_window &&
        config.subjects.length === (now.subjects ?? []).length &&
        config.subjects.every((s) => now.subjects?.includes(s));
      if (same) return;
      if ((now.num_replicas || 1) !== config.num_replicas) this.log.info('changing the replicas of a stream', { stream: config.name, from: now.num_replicas, to: config.num_replicas });
      await this.jsm!.streams.update(config.name, config);
    } catch (error) {
      if ((error as { code?: string }).code === '404' || /stream not found/i.test((error as Error).message)) {
        await this.jsm!.streams.add(config);
      } else throw error;
    }
  }

  async publish(subject: string, payload: unknown, { msgId, headers }: { msgId: string; headers?: Record<string, string> }): Promise<void> {
    if (!this.connected || !this.js) throw unavailable(`publish ${subject}`);
    const h = natsHeaders();
    h.set('Nats-Msg-Id', msgId);
    for (const [k, v] of Object.entries(headers ?? outgoingHeaders())) h.set(k, v);
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
    // Delivered events wait here while earlier ones are handled; one drain at a time, in order.
    const queue: JsMsg[] = [];
    let draining: Promise<void> | undefined;
    /** Woken after this process acknowledged events (the barrier looks again then). */
    const progress = new Set<() => void>();
    const eventOf = (m: JsMsg) => ({ subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id') ?? String(m.seq), payload: decode(m.data), seq: m.seq, attempt: m.info.redeliveryCount });
    /** True when handled; a failed event is negatively acknowledged, to come again later. */
    const handleOne = async (m: JsMsg): Promise<boolean> => {
      try {
        // Handled in the context its publisher sent (request id, trace).
        await inbound('event', m.subject, (name) => m.headers?.get(name), this.log, () => spec.handler(eventOf(m)));
        return true;
      } catch (error) {
        const attempt = m.info.redeliveryCount;
        this.log.warn('event handler failed; will redeliver', { subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), attempt, error: error as Error });
        m.nak(Math.min(100 * 2 ** attempt, 5000));
        return false;
      }
    };
    const drain = async () => {
      while (queue.length > 0 && !stopped) {
        const batch = queue.splice(0, MAX_BATCH);
        let handled: JsMsg[] | undefined;
        if (spec.handleBatch && batch.length > 1) {
          try {
            // One context for the batch: the first event's (each event's own would need a span each).
            const first = batch[0]!;
            await inbound('event', first.subject, (name) => first.headers?.get(name), this.log, () => spec.handleBatch!(batch.map(eventOf)));
            handled = batch;
          } catch (error) {
            this.log.debug('a batch of events failed; handling them one by one', { stream: spec.stream, events: batch.length, error: error as Error });
          }
        }
        if (!handled) {
          handled = [];
          for (const m of batch) if (await handleOne(m)) handled.push(m);
        }
        // While a barrier waits, the last acknowledgement is confirmed by NATS before it is told:
        // then its next look at the consumer sees every one of them.
        const confirmed = progress.size > 0 ? handled[handled.length - 1] : undefined;
        for (const m of handled) if (m !== confirmed) m.ack();
        if (confirmed) {
          const wake = () => [...progress].forEach((w) => w());
          void confirmed.ackAck().then(wake, wake);
        }
      }
    };
    const kick = () => {
      draining ??= drain().finally(() => {
        draining = undefined;
        if (queue.length > 0 && !stopped) kick();
      });
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
            // Receiving never waits on handling: what arrives meanwhile is handled next, together.
            for await (const m of messages) {
              lastDelivery = Date.now();
              if (stopped) break;
              queue.push(m);
              kick();
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
    detached(run); // (resumes by itself after a reconnect, as the replicas do)
    const stop = async () => {
      stopped = true;
      current?.stop();
    };
    this.stoppers.add(stop);
    return {
      // Looks at the consumer once, and again only when this process acknowledged more (or, for
      // other processes of the durable, every CAUGHT_UP_LOOK_MS): no polling every millisecond.
      caughtUp: async (timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        const left = () => Math.max(1, deadline - Date.now());
        let target = Number.POSITIVE_INFINITY;
        while (this.connected && Date.now() <= deadline) {
          try {
            const info = await withTimeout(this.jsm!.consumers.info(stream, spec.durable), left());
            if (info.num_pending === 0 && info.num_ack_pending === 0) return true;
            // Everything stored by now: the last event delivered when none is left to deliver,
            // else the stream's last sequence.
            if (target === Number.POSITIVE_INFINITY) {
              target = info.num_pending === 0 ? info.delivered.stream_seq : (await withTimeout(this.jsm!.streams.info(stream), left())).state.last_seq;
            }
            // Once nothing is left to deliver, every event up to the target was delivered by the
            // last delivery: acknowledging up to there is enough (the target may be another subject).
            if (info.num_pending === 0) target = Math.min(target, info.delivered.stream_seq);
            if (info.ack_floor.stream_seq >= target) return true;
          } catch {
            return false;
          }
          await new Promise<void>((resolve) => {
            const wake = () => {
              clearTimeout(timer);
              progress.delete(wake);
              resolve();
            };
            const timer = setTimeout(wake, Math.min(CAUGHT_UP_LOOK_MS, left()));
            progress.add(wake);
          });
        }
        return false;
      },
      pending: async () => {
        const info = await this.jsm!.consumers.info(stream, spec.durable);
        return info.num_pending + info.num_ack_pending;
      },
      stop,
    };
  }

  onReconnect(listener: () => void): void {
    this.reconnectListeners.push(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.heartbeat);
    for (const stop of this.stoppers) await stop().catch(() => {});
    for (const s of this.services) await s.service?.stop().catch(() => {});
    await this.nc?.drain().catch(() => this.nc?.close());
  }
}

/** NATS headers from a record; none at all when it is empty (most background traffic). */
function headersOf(record: Record<string, string>) {
  let h: ReturnType<typeof natsHeaders> | undefined;
  for (const [k, v] of Object.entries(record)) (h ??= natsHeaders()).set(k, v);
  return h;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms))),
  ]).finally(() => clearTimeout(timer));
}
