/**
 * The bus: the only way modules reach each other. Shaped after NATS from the start so that the
 * in-process implementation (memory.ts) and the NATS one (nats.ts) are interchangeable:
 *
 * - request/reply through named, versioned services, which can time out or find nobody;
 * - snapshot buckets (JetStream KV): key → JSON value with revisions, watched into local replicas;
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

  /** Serves a named, versioned service; each endpoint answers `subject` with its handler's result. */
  addService(spec: ServiceSpec): Promise<ServiceHandle>;
  /** Sends a request and waits for the reply. Throws BUS.NO_RESPONDERS or BUS.TIMEOUT. */
  request<T = unknown>(subject: string, payload: unknown, options?: { timeoutMs?: number }): Promise<T>;

  /** Opens (creating if needed) a snapshot bucket for writing. */
  bucket(name: string): Promise<SnapshotBucket>;
  /** Watches a bucket into a local copy: warm-up from the last values, then every update. */
  replica<T>(bucket: string, options: ReplicaOptions<T>): Promise<Replica<T>>;

  /** Creates or updates a stream capturing `subjects`. */
  ensureStream(spec: StreamSpec): Promise<void>;
  /** Publishes an event into its stream; resolves once stored. `msgId` deduplicates. */
  publish(subject: string, payload: unknown, options: { msgId: string }): Promise<void>;
  /** Consumes a stream through a durable consumer shared by every process with the same name. */
  consume(spec: ConsumerSpec): Promise<Consumer>;

  /**
   * Called after the connection came back (never in process). NATS may have been re-created
   * without its store: owners re-publish their snapshots.
   */
  onReconnect(listener: () => void): void;

  close(): Promise<void>;
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
  /** Receives the decoded JSON payload; its result is the reply. Throw a DomainError to reply with an error. */
  handler: (payload: unknown) => Promise<unknown>;
}

export interface ServiceHandle {
  stop(): Promise<void>;
}

export interface BucketEntry {
  key: string;
  /** Decoded JSON value; null when the key was deleted. */
  value: unknown;
  revision: number;
}

export interface SnapshotBucket {
  readonly name: string;
  /** Writes `value` under `key`; resolves with the bucket revision of the write once stored. */
  put(key: string, value: unknown): Promise<number>;
  get(key: string): Promise<BucketEntry | null>;
  /** Deletes `key` (replicas drop it); resolves with the revision of the deletion. */
  delete(key: string): Promise<number>;
  keys(): Promise<string[]>;
  /**
   * Read-your-writes across processes: resolves true once every live replica of this bucket,
   * in every process, has applied `revision` (false after `timeoutMs`). A writer awaits it
   * before answering, so readers never have to ask the bus whether their copy is current.
   */
  settled(revision: number, timeoutMs: number): Promise<boolean>;
}

export interface ReplicaOptions<T> {
  /** Validates and converts a raw value (the contract's schema); a value it rejects is skipped and logged. */
  parse: (value: unknown) => T;
  /** Secondary indexes: name → function giving the index key of a value (e.g. token → user). */
  indexes?: Record<string, (value: T) => string | undefined>;
}

export interface Replica<T> {
  /** True once the warm-up (every value present when watching began) has been applied. */
  readonly ready: boolean;
  /** Resolves true once ready, false after `timeoutMs`. */
  waitReady(timeoutMs: number): Promise<boolean>;
  get(key: string): T | undefined;
  findBy(index: string, indexKey: string): T | undefined;
  values(): IterableIterator<T>;
  readonly size: number;
  /** Called after each applied change. */
  onChange(listener: (key: string, value: T | undefined) => void): void;
  stop(): Promise<void>;
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
}

export interface Consumer {
  /**
   * Barrier: resolves true once every event stored in the stream before the call has been
   * handled and acknowledged (by this durable, in any process); false after `timeoutMs`.
   */
  caughtUp(timeoutMs: number): Promise<boolean>;
  stop(): Promise<void>;
}
