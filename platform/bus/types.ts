/**
 * The bus: the only way modules reach each other. Shaped after NATS from the start so that the
 * in-process implementation (memory.ts) and the NATS one (nats/) are interchangeable:
 *
 * - request/reply through named, versioned services, which can time out or find nobody;
 * - snapshot buckets (JetStream KV): key → JSON value with revisions. The bucket *is* the shared
 *   copy of an owner's data; readers keep a bounded cache of it (copy.ts), follow its changes for
 *   the keys they hold, and are told by writers to drop a key before a write is answered;
 * - durable event streams (JetStream): at-least-once delivery to durable consumers, acknowledged
 *   explicitly when the handler succeeds, redelivered when it throws.
 *
 * Failures surface as DomainError with codes BUS.NO_RESPONDERS, BUS.TIMEOUT, BUS.UNAVAILABLE
 * (all 503), or the remote handler's own code.
 */

export interface Bus {
  readonly kind: 'memory' | 'nats';
  /** False while the connection to NATS is down; always true in process. */
  readonly connected: boolean;
  /**
   * Resolves true once connected (at once when connected), false after `timeoutMs`: a process
   * moving to another node of a NATS cluster is back within milliseconds.
   */
  awaitConnection(timeoutMs: number): Promise<boolean>;
  /** Since when the connection has been down (ms since the epoch); undefined while connected. */
  readonly disconnectedAt?: number;

  /** Serves a named, versioned service; each endpoint answers `subject` with its handler's result. */
  addService(spec: ServiceSpec): Promise<ServiceHandle>;
  /** Sends a request and waits for the reply. Throws BUS.NO_RESPONDERS or BUS.TIMEOUT. */
  request<T = unknown>(subject: string, payload: unknown, options?: { timeoutMs?: number }): Promise<T>;

  /** Opens (creating if needed) a snapshot bucket. */
  bucket(name: string): Promise<SnapshotBucket>;
  /**
   * Follows a bucket's changes from now on, in revision order — which key changed, not to what
   * (cheap for every follower, however much is written). `reset` is called (before any
   * change that follows it) whenever the feed cannot vouch that nothing was missed — a
   * reconnect, a stream that was re-created: whatever the follower learnt before must be read
   * again.
   */
  follow(bucket: string, follower: Follower): Promise<Stoppable>;
  /**
   * Declares that this process holds keys of `bucket` (a cache of it). Before a writer answers,
   * it calls `settle`, which reaches `holder.drop` in every process that holds keys of the
   * bucket; `holder.reset` is called when writers may have counted this process out (its lease
   * lapsed and was fenced): whatever it holds must be read again.
   */
  hold(bucket: string, holder: Holder): Promise<Stoppable>;
  /**
   * Whether this process may answer from what it holds as current: its lease as a holder is
   * valid (NATS: renewed within the lease; see presence.ts). Always in process.
   */
  vouches(): boolean;

  /** Creates or updates a stream capturing `subjects`. */
  ensureStream(spec: StreamSpec): Promise<void>;
  /**
   * Publishes an event into its stream; resolves once stored. `msgId` deduplicates. `headers`
   * (request id, trace context) go with it to its consumers; by default, those of the request
   * being handled (request-context.ts).
   */
  publish(subject: string, payload: unknown, options: { msgId: string; headers?: Record<string, string> }): Promise<void>;
  /** Consumes a stream through a durable consumer shared by every process with the same name. */
  consume(spec: ConsumerSpec): Promise<Consumer>;

  /** Called after the connection came back (never in process). */
  onReconnect(listener: () => void): void;

  close(): Promise<void>;
}

export interface Stoppable {
  stop(): Promise<void>;
}

export interface ServiceSpec {
  /** Service name (`item`), seen by `nats micro ls`. */
  name: string;
  version: string;
  description: string;
  endpoints: EndpointSpec[];
}

export interface EndpointSpec {
  /** Endpoint name, e.g. `get`. */
  name: string;
  /** Subject, `<domain>.<verb>`, e.g. `item.get`. */
  subject: string;
  /** Shown by `nats micro info` (the request and reply schemas). */
  metadata?: Record<string, string>;
  /** Receives the decoded JSON payload; its result is the reply. Throw a DomainError to reply with an error. */
  handler: (payload: unknown) => Promise<unknown>;
}

export type ServiceHandle = Stoppable;

/**
 * What a holder is told by `settle`: the keys changed — drop them (the next read must find
 * `revision` or later), or, given the new `values`, hold those: a key held is replaced by its new
 * value and revision (no read after a write, so no replica that is behind can answer it); a value
 * with revision 0 was not stored yet (a cluster electing the bucket's leader; the writer keeps
 * trying) and is held, even by a holder that lacked the key, until a later settle of the key.
 */
export type Drop = (keys: string[], revision: number, values?: Record<string, Handed>) => void;

/** A process's copy of a bucket as writers reach it (see Bus.hold). */
export interface Holder {
  drop: Drop;
  reset(): void;
}

/** A key's new value as its writer hands it to the holders (null: deleted). */
export interface Handed {
  value: unknown;
  /** The bucket revision of the write; 0: not stored yet. */
  revision: number;
}

export interface BucketEntry {
  key: string;
  /** Decoded JSON value; null when the key was deleted. */
  value: unknown;
  revision: number;
}

/** That a key changed (no value: a follower that holds the key reads it again). */
export interface BucketChange {
  key: string;
  revision: number;
  /** True when the key was deleted. */
  deleted: boolean;
  /** When the change was stored (ms since the epoch), where the bus knows it (for the copies' lag). */
  storedAt?: number;
}

export interface Follower {
  change(change: BucketChange): void;
  reset(): void;
}

export interface SnapshotBucket {
  readonly name: string;
  /** Writes `value` under `key`; resolves with the bucket revision of the write once stored. */
  put(key: string, value: unknown): Promise<number>;
  /** Deletes `key`; resolves with the revision of the deletion. */
  delete(key: string): Promise<number>;
  /**
   * The key's last value (a direct get: any replica answers); null when it was never written or
   * is deleted. `minRevision`: a write the caller was told of (settle) — an answer older than it
   * (a replica behind the others) is not taken.
   * `fromLeader`: only the stream's leader is asked (a replica may be behind, e.g. a node that
   * has just come back from a partition); when it cannot answer, the read fails.
   */
  get(key: string, options?: { minRevision?: number; fromLeader?: boolean }): Promise<BucketEntry | null>;
  /**
   * Writes many entries at once (a value of null deletes), pipelined; resolves once every one is
   * stored. For bulk loads: nobody is told to drop anything.
   */
  putMany(entries: { key: string; value: unknown }[]): Promise<void>;
  /** Every key the bucket holds, streamed in batches of at most `batch`. */
  keys(batch: number): AsyncIterable<string[]>;
  /** Every entry the bucket holds (its last value per key), streamed in batches of at most `batch`. */
  entries(batch: number): AsyncIterable<BucketEntry[]>;
  /** How many entries (values and deletion markers) the bucket stores. */
  size(): Promise<number>;
  /**
   * Read-your-writes: resolves true once every process holding keys of this bucket has dropped
   * `keys` (so its next read of them finds `revision` or later); false after `timeoutMs`.
   */
  settle(keys: string[], revision: number, timeoutMs: number, values?: Record<string, Handed>): Promise<boolean>;
}

export interface StreamSpec {
  name: string;
  subjects: string[];
}

export interface DeliveredEvent {
  subject: string;
  msgId: string;
  payload: unknown;
  /** Stream sequence number. */
  seq: number;
  /** Delivery attempt, 1 for the first. */
  attempt: number;
}

export interface ConsumerSpec {
  stream: string;
  /** Durable name: processes using the same name share the work. */
  durable: string;
  filterSubject?: string;
  /** Resolving acknowledges the event; throwing makes it come again later (at-least-once). */
  handler: (event: DeliveredEvent) => Promise<void>;
  /**
   * Optional: handles the events that arrived together at once (one statement for many); resolving
   * acknowledges them all. When it throws, each event of the batch goes through `handler` alone, so
   * one bad event holds up nothing but itself. Must have the same effect as `handler` on each.
   */
  handleBatch?: (events: DeliveredEvent[]) => Promise<void>;
}

export interface Consumer {
  /**
   * Barrier: resolves true once every event stored in the stream before the call has been
   * handled and acknowledged (by this durable, in any process); false after `timeoutMs`.
   */
  caughtUp(timeoutMs: number): Promise<boolean>;
  /** Events of the stream this durable has not yet handled and acknowledged (for the metrics). */
  pending?(): Promise<number>;
  stop(): Promise<void>;
}
