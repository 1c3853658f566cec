import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Copy } from '../bus/copy.ts';
import type { Bus, Consumer, ConsumerSpec } from '../bus/types.ts';
import { droppedLogLines } from './log.ts';
import { countLocalAnswers } from './request-context.ts';

/**
 * The process's Prometheus metrics (prom-client), one registry per process: in the embedded
 * mode every module and port shares it, so what is a module's is labelled by module. Served at
 * `/metrics` on every port (platform/http/operations.ts).
 *
 * - prom-client's default process and runtime metrics;
 * - `http_request_duration_seconds` by method, route pattern (never the raw path), status code
 *   and `api` (the modules of the port: the same route on two ports of one process differs);
 * - the system's own, read when scraped: outbox rows waiting, copy entries, hits, misses and
 *   the lag of the changes they follow, consumer pending, whether the bus is connected, whether
 *   the copies are vouched for (the lease), answers marked `X-Consistency: local`, and the
 *   seconds of request statistics waiting for it.
 */

/** Not answering within this, a figure read at scrape time is left out of that scrape. */
const SCRAPE_READ_MS = 500;

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), ms)))]).finally(() => clearTimeout(timer));
}

/** Gauges of prom-client's defaults named like counters (`_total`): promtool refuses them; the same figures are there by type. */
const MISNAMED_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

interface WatchedCopy {
  module: string;
  copy: Copy<unknown, unknown>;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Histogram<'method' | 'route' | 'status_code' | 'api'>;
  private readonly copyLag: Histogram<'module' | 'bucket'>;
  private readonly series = new Map<string, ReturnType<Histogram<'method' | 'route' | 'status_code' | 'api'>['labels']>>();
  private readonly outboxes = new Map<string, () => Promise<number>>();
  private readonly copies: WatchedCopy[] = [];
  private readonly consumers: { module: string; stream: string; durable: string; consumer: Consumer }[] = [];
  private bus: Bus | undefined;
  private unsent: (() => number) | undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    for (const name of MISNAMED_DEFAULTS) this.registry.removeSingleMetric(name);
    const registers = [this.registry];
    this.requests = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route pattern, status code and the modules of the port (api).',
      labelNames: ['method', 'route', 'status_code', 'api'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.copyLag = new Histogram({
      name: 'copy_change_lag_seconds',
      help: 'Time from a change stored in a snapshot bucket to a copy of this process applying it.',
      labelNames: ['module', 'bucket'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
      registers,
    });
    const self = this;
    new Gauge({
      name: 'outbox_rows_waiting',
      help: 'Rows of the module\'s transactional outbox not yet relayed to the bus.',
      labelNames: ['module'],
      registers,
      async collect() {
        this.reset();
        await Promise.all(
          [...self.outboxes].map(async ([module, count]) => {
            const n = await within(count(), SCRAPE_READ_MS).catch(() => undefined);
            if (n !== undefined) this.set({ module }, n);
          }),
        );
      },
    });
    new Gauge({
      name: 'copy_entries',
      help: 'Keys a bounded copy of a snapshot bucket holds.',
      labelNames: ['module', 'bucket'],
      registers,
      collect() {
        this.reset();
        for (const { module, copy } of self.copies) this.set({ module, bucket: copy.stats().bucket }, copy.stats().entries);
      },
    });
    new Gauge({
      name: 'copy_whole',
      help: 'Whether a copy holds every key of its snapshot bucket (1: it answers every key while NATS is away).',
      labelNames: ['module', 'bucket'],
      registers,
      collect() {
        this.reset();
        for (const { module, copy } of self.copies) this.set({ module, bucket: copy.stats().bucket }, copy.stats().whole ? 1 : 0);
      },
    });
    const counted = (name: string, help: string, pick: (s: ReturnType<Copy<unknown, unknown>['stats']>) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['module', 'bucket'],
        registers,
        collect() {
          this.reset();
          for (const { module, copy } of self.copies) {
            const stats = copy.stats();
            this.inc({ module, bucket: stats.bucket }, pick(stats));
          }
        },
      });
    counted('copy_hits_total', 'Reads a bounded copy answered from memory.', (s) => s.hits);
    counted('copy_misses_total', 'Reads a bounded copy had to look up (in the bucket, or ask the owner).', (s) => s.misses);
    counted('copy_owner_fallbacks_total', 'Misses the owner answered (its database: the bucket is read only when the owner does not answer).', (s) => s.fallbacks);
    new Gauge({
      name: 'consumer_pending',
      help: 'Events of a stream not yet handled and acknowledged by a durable consumer of this process.',
      labelNames: ['module', 'stream', 'durable'],
      registers,
      async collect() {
        this.reset();
        await Promise.all(
          self.consumers.map(async ({ module, stream, durable, consumer }) => {
            const n = consumer.pending ? await within(consumer.pending(), SCRAPE_READ_MS).catch(() => undefined) : undefined;
            if (n !== undefined) this.set({ module, stream, durable }, n);
          }),
        );
      },
    });
    new Gauge({
      name: 'bus_connected',
      help: 'Whether the bus (NATS, or the in-process one) is connected: 1 or 0.',
      registers,
      collect() {
        this.set(self.bus?.connected ? 1 : 0);
      },
    });
    new Gauge({
      name: 'copies_vouched',
      help: 'Whether this process may answer from the copies it holds as current (its lease as a holder is valid): 1 or 0.',
      registers,
      collect() {
        this.set(self.bus?.vouches() ? 1 : 0);
      },
    });
    const local = new Counter({
      name: 'answers_local_total',
      help: 'Answers marked X-Consistency: local, by why: a copy that could not vouch for what it held, a write or a visit other processes were not told of.',
      labelNames: ['reason'],
      registers,
    });
    countLocalAnswers((reason) => local.inc({ reason }));
    new Counter({
      name: 'log_lines_dropped_total',
      help: 'Log lines dropped because the buffer of lines waiting for stderr (LOG_BUFFER_BYTES) was full, or stderr refused them.',
      registers,
      collect() {
        this.reset();
        this.inc(droppedLogLines());
      },
    });
    new Gauge({
      name: 'telemetry_unsent_seconds',
      help: 'Seconds of request statistics waiting for the bus (minifb ports).',
      registers,
      collect() {
        this.set(self.unsent?.() ?? 0);
      },
    });
  }

  /** Counts one answered request. `route` is the pattern (`/post/{id}`), never the raw path. */
  observeRequest(method: string, route: string, status: number, api: string, seconds: number) {
    // The labelled series, looked up once per combination (prom-client hashes the labels on every call).
    const key = `${method} ${route} ${status} ${api}`;
    let series = this.series.get(key);
    if (!series) this.series.set(key, (series = this.requests.labels({ method, route, status_code: String(status), api })));
    series.observe(seconds);
  }

  watchBus(bus: Bus) {
    this.bus = bus;
  }

  watchOutbox(module: string, waiting: () => Promise<number>) {
    this.outboxes.set(module, waiting);
  }

  watchCopy(module: string, copy: Copy<unknown, unknown>) {
    this.copies.push({ module, copy });
  }

  /** What a copy's change lag is reported to. */
  copyLagObserver(module: string, bucket: string) {
    return (seconds: number) => this.copyLag.observe({ module, bucket }, seconds);
  }

  watchUnsentStatistics(unsent: () => number) {
    this.unsent = unsent;
  }

  /**
   * The bus as a module sees it: the same bus, whose durable consumers are counted in the
   * metrics (`consumer_pending`).
   */
  busOf(module: string, bus: Bus): Bus {
    const consume = async (spec: ConsumerSpec): Promise<Consumer> => {
      const consumer = await bus.consume(spec);
      this.consumers.push({ module, stream: spec.stream, durable: spec.durable, consumer });
      return consumer;
    };
    return new Proxy(bus, {
      get(target, property) {
        if (property === 'consume') return consume;
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
  }

  /** The exposition text (Prometheus 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
