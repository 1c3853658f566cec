import { databaseError, DomainError } from '../errors.ts';
import type { Logger } from '../observability/log.ts';
import { detached, inbound, outgoingHeaders } from '../observability/request-context.ts';
import type {
  BucketEntry,
  Bus,
  Consumer,
  ConsumerSpec,
  DeliveredEvent,
  Drop,
  Holder,
  Follower,
  ServiceHandle,
  ServiceSpec,
  SnapshotBucket,
  Stoppable,
  StreamSpec,
} from './types.ts';

async function* batches<T>(keys: T[], size: number): AsyncIterable<T[]> {
  for (let i = 0; i < keys.length; i += size) yield keys.slice(i, i + size);
}

/** JSON round trip, so that in process nothing is shared by reference that NATS would copy. */
const wire = (v: unknown): unknown => (v === undefined ? null : JSON.parse(JSON.stringify(v)));

/** NATS subject matching: `*` one token, `>` the rest. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.');
  const s = subject.split('.');
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i;
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false;
  }
  return p.length === s.length;
}

interface Stored {
  seq: number;
  subject: string;
  msgId: string;
  payload: unknown;
  /** Request id and trace context, as NATS headers would carry them. */
  headers: Record<string, string>;
}

interface StreamState {
  spec: StreamSpec;
  /** Messages not yet acknowledged by every durable consumer; the first has sequence `first`. */
  messages: Stored[];
  first: number;
  lastSeq: number;
  /** Message ids seen within the duplicate window, with when (insertion order is time order). */
  ids: Map<string, number>;
  consumers: Map<string, DurableState>;
}

/** As the NATS streams: a message id is remembered for two minutes. */
const DUPLICATE_WINDOW_MS = 120_000;

interface DurableState {
  /** Every sequence up to this one is acknowledged. */
  ackFloor: number;
  handler?: ConsumerSpec['handler'];
  filter?: string;
  running: boolean;
  waiters: { seq: number; resolve: (ok: boolean) => void }[];
  retryTimer?: ReturnType<typeof setTimeout>;
}

/**
 * The bus in process: same semantics as the NATS one, held in memory. Streams and buckets live
 * as long as the process; the owners' outboxes and start-up snapshots refill them after a restart.
 */
export class MemoryBus implements Bus {
  readonly kind = 'memory' as const;
  readonly connected = true;
  async awaitConnection(): Promise<boolean> {
    return true;
  }
  private readonly endpoints = new Map<string, (payload: unknown) => Promise<unknown>>();
  private readonly buckets = new Map<
    string,
    { revision: number; entries: Map<string, BucketEntry>; followers: Set<Follower>; holders: Set<Drop> }
  >();
  private readonly streams = new Map<string, StreamState>();
  private closed = false;

  constructor(private readonly log: Logger) {}

  async addService(spec: ServiceSpec): Promise<ServiceHandle> {
    for (const e of spec.endpoints) {
      if (this.endpoints.has(e.subject)) throw new Error(`subject ${e.subject} is already served`);
      this.endpoints.set(e.subject, e.handler);
    }
    return {
      stop: async () => {
        for (const e of spec.endpoints) this.endpoints.delete(e.subject);
      },
    };
  }

  async request<T>(subject: string, payload: unknown, options: { timeoutMs?: number } = {}): Promise<T> {
    const handler = this.endpoints.get(subject);
    if (!handler) throw new DomainError('BUS.NO_RESPONDERS', `no service answers ${subject}`);
    const timeoutMs = options.timeoutMs ?? 2000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DomainError('BUS.TIMEOUT', `${subject} did not answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      const headers = outgoingHeaders();
      const handled = inbound('request', subject, (name) => headers[name], this.log, () => handler(wire(payload)));
      return wire(await Promise.race([handled, timeout])) as T;
    } catch (thrown) {
      const error = databaseError(thrown);
      if (error instanceof DomainError) throw error;
      throw new DomainError('BUS.INTERNAL', error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
    }
  }

  private bucketState(name: string) {
    let b = this.buckets.get(name);
    if (!b) this.buckets.set(name, (b = { revision: 0, entries: new Map(), followers: new Set(), holders: new Set() }));
    return b;
  }

  async bucket(name: string): Promise<SnapshotBucket> {
    const state = this.bucketState(name);
    const write = (key: string, value: unknown) => {
      const entry = { key, value: wire(value), revision: ++state.revision };
      state.entries.set(key, entry);
      for (const f of state.followers) f.change({ key, revision: entry.revision, deleted: entry.value === null, storedAt: Date.now() });
      return entry.revision;
    };
    return {
      name,
      put: async (key, value) => write(key, value),
      get: async (key) => {
        const e = state.entries.get(key);
        return e && e.value !== null ? { ...e, value: wire(e.value) } : null;
      },
      delete: async (key) => write(key, null),
      putMany: async (entries) => {
        for (const e of entries) write(e.key, e.value);
      },
      keys: (batch) => batches([...state.entries.values()].filter((e) => e.value !== null && !e.key.startsWith('_')).map((e) => e.key), batch),
      entries: (batch) => batches([...state.entries.values()].filter((e) => e.value !== null && !e.key.startsWith('_')).map((e) => ({ ...e, value: wire(e.value) })), batch),
      size: async () => state.entries.size,
      // Followers apply every write synchronously; holders drop at once: nothing to wait for.
      settle: async (keys, revision, _timeoutMs, values) => {
        // The values as NATS would carry them (JSON), as the bucket holds them.
        const handed = values && Object.fromEntries(Object.entries(values).map(([k, h]) => [k, { value: wire(h.value), revision: h.revision }]));
        for (const drop of state.holders) drop(keys, revision, handed);
        return true;
      },
    };
  }

  async follow(bucket: string, follower: Follower): Promise<Stoppable> {
    const state = this.bucketState(bucket);
    state.followers.add(follower);
    return { stop: async () => void state.followers.delete(follower) };
  }

  async hold(bucket: string, holder: Holder): Promise<Stoppable> {
    const state = this.bucketState(bucket);
    state.holders.add(holder.drop);
    return { stop: async () => void state.holders.delete(holder.drop) };
  }

  /** In process every holder is told of every write at once: what it holds is always current. */
  vouches() {
    return true;
  }

  async ensureStream(spec: StreamSpec): Promise<void> {
    const s = this.streams.get(spec.name);
    if (s) s.spec = spec;
    else this.streams.set(spec.name, { spec, messages: [], first: 1, lastSeq: 0, ids: new Map(), consumers: new Map() });
  }

  async publish(subject: string, payload: unknown, { msgId, headers }: { msgId: string; headers?: Record<string, string> }): Promise<void> {
    const stream = [...this.streams.values()].find((s) => s.spec.subjects.some((p) => subjectMatches(p, subject)));
    if (!stream) throw new DomainError('BUS.NO_RESPONDERS', `no stream captures ${subject}`);
    const now = Date.now();
    for (const [id, at] of stream.ids) {
      if (now - at < DUPLICATE_WINDOW_MS) break;
      stream.ids.delete(id);
    }
    if (stream.ids.has(msgId)) return;
    stream.ids.set(msgId, now);
    stream.messages.push({ seq: ++stream.lastSeq, subject, msgId, payload: wire(payload), headers: { ...(headers ?? outgoingHeaders()) } });
    for (const d of stream.consumers.values()) this.drive(stream, d);
  }

  async consume(spec: ConsumerSpec): Promise<Consumer> {
    const stream = this.streams.get(spec.stream);
    if (!stream) throw new Error(`stream ${spec.stream} does not exist`);
    let d = stream.consumers.get(spec.durable);
    if (!d) stream.consumers.set(spec.durable, (d = { ackFloor: stream.first - 1, running: false, waiters: [] }));
    if (d.handler) throw new Error(`durable ${spec.durable} already has a handler in this process`);
    d.handler = spec.handler;
    d.filter = spec.filterSubject;
    const durable = d;
    this.drive(stream, durable);
    return {
      caughtUp: (timeoutMs) => {
        const target = stream.lastSeq;
        if (durable.ackFloor >= target) return Promise.resolve(true);
        return new Promise((resolve) => {
          const waiter = { seq: target, resolve };
          durable.waiters.push(waiter);
          setTimeout(() => {
            durable.waiters = durable.waiters.filter((w) => w !== waiter);
            resolve(false);
          }, timeoutMs);
        });
      },
      pending: async () => stream.messages.filter((m) => m.seq > durable.ackFloor && (!durable.filter || subjectMatches(durable.filter, m.subject))).length,
      stop: async () => {
        durable.handler = undefined;
        clearTimeout(durable.retryTimer);
      },
    };
  }

  /**
   * Forgets the messages every durable consumer has acknowledged, so a long-running process does
   * not keep every event it ever relayed. (A durable added later starts after them: in process,
   * every consumer is declared at start.)
   */
  private trim(stream: StreamState) {
    let floor = Infinity;
    for (const d of stream.consumers.values()) floor = Math.min(floor, d.ackFloor);
    if (floor === Infinity || floor < stream.first) return;
    stream.messages.splice(0, floor - stream.first + 1);
    stream.first = floor + 1;
  }

  /** Delivers in order, one at a time; a failed event is retried with backoff before the next. */
  private drive(stream: StreamState, d: DurableState, attempt = 1) {
    if (d.running || !d.handler || this.closed) return;
    d.running = true;
    detached(async () => {
      try {
        while (d.handler && d.ackFloor < stream.lastSeq) {
          const m = stream.messages[d.ackFloor + 1 - stream.first]!;
          if (!d.filter || subjectMatches(d.filter, m.subject)) {
            const event: DeliveredEvent = { subject: m.subject, msgId: m.msgId, payload: wire(m.payload), seq: m.seq, attempt };
            try {
              const handler = d.handler;
              await inbound('event', m.subject, (name) => m.headers[name], this.log, () => handler(event));
            } catch (error) {
              this.log.warn('event handler failed; will redeliver', { subject: m.subject, msgId: m.msgId, attempt, error });
              d.running = false;
              d.retryTimer = setTimeout(() => this.drive(stream, d, attempt + 1), Math.min(100 * 2 ** attempt, 5000));
              return;
            }
          }
          attempt = 1;
          d.ackFloor = m.seq;
          d.waiters = d.waiters.filter((w) => (w.seq <= d.ackFloor ? (w.resolve(true), false) : true));
          this.trim(stream);
        }
        d.running = false;
      } catch (error) {
        d.running = false;
        this.log.error('in-process consumer stopped', { error });
      }
    });
  }

  onReconnect(): void {
    // The in-process bus never disconnects.
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.streams.values()) for (const d of s.consumers.values()) clearTimeout(d.retryTimer);
  }
}
