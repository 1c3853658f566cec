import { Type, type Static } from '@sinclair/typebox';
import type { Bus } from './bus/types.ts';
import type { Logger } from './log.ts';

/**
 * Request telemetry: every process counts the requests it answers, in memory, and reports one
 * aggregate per second on the bus (the statistics domain adds them up), so no request waits on a
 * write. The same counts feed `/metrics` in Prometheus' text format.
 */

/** The stream request aggregates are published into. Owner: the platform (every process). */
export const TELEMETRY_STREAM = { name: 'TELEMETRY', subjects: ['telemetry.>'] };
/** One process's requests of one second. Message id `<process>:<second>`: a retry is stored once. */
export const REQUESTS_SUBJECT = 'telemetry.requests';

export const RequestBatch = Type.Object({
  /** The reporting process (`<host>-<pid>-<random>`). */
  process: Type.String({ minLength: 1, maxLength: 200 }),
  product: Type.String({ minLength: 1, maxLength: 50 }),
  /** Unix time of the second, in seconds. */
  second: Type.Integer({ minimum: 0 }),
  total: Type.Integer({ minimum: 1 }),
  /** Status code → count. */
  byStatus: Type.Record(Type.String({ pattern: '^[0-9]{3}$' }), Type.Integer({ minimum: 1 })),
  /** `GET /post/{id}` → count. */
  byEndpoint: Type.Record(Type.String(), Type.Integer({ minimum: 1 })),
});
export type RequestBatch = Static<typeof RequestBatch>;

/** What a request that matched no route is counted as. */
export const noRoute = (method: string) => `${method} (no route)`;

/** Unsent seconds kept while the bus is down: a day, what the statistics look back on. */
const MAX_PENDING = 86_400;
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

const label = (v: string) => v.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

export class RequestMeter {
  private current: { second: number; batch: Map<string, { byStatus: Map<string, number>; byEndpoint: Map<string, number>; total: number }> } | undefined;
  private readonly pending: RequestBatch[] = [];
  private readonly totals = new Map<string, number>();
  private readonly durations = new Map<string, Histogram>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private sending: Promise<void> | undefined;
  private readonly started = Date.now() / 1000;

  constructor(
    readonly process: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one answered request. `endpoint` is `METHOD /route/{pattern}`. */
  record(product: string, endpoint: string, status: number, seconds: number) {
    const second = Math.floor(this.now() / 1000);
    if (this.current && this.current.second !== second) this.close();
    this.current ??= { second, batch: new Map() };
    let p = this.current.batch.get(product);
    if (!p) this.current.batch.set(product, (p = { byStatus: new Map(), byEndpoint: new Map(), total: 0 }));
    const code = String(status);
    p.total++;
    p.byStatus.set(code, (p.byStatus.get(code) ?? 0) + 1);
    p.byEndpoint.set(endpoint, (p.byEndpoint.get(endpoint) ?? 0) + 1);

    const key = `${product}\u0000${endpoint}\u0000${code}`;
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1);
    const hkey = `${product}\u0000${endpoint}`;
    let h = this.durations.get(hkey);
    if (!h) this.durations.set(hkey, (h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  /** Moves the second being counted to the batches waiting to be sent. */
  private close() {
    if (!this.current) return;
    for (const [product, p] of this.current.batch) {
      this.pending.push({
        process: this.process,
        product,
        second: this.current.second,
        total: p.total,
        byStatus: Object.fromEntries(p.byStatus),
        byEndpoint: Object.fromEntries(p.byEndpoint),
      });
    }
    this.current = undefined;
    if (this.pending.length > MAX_PENDING) {
      const dropped = this.pending.splice(0, this.pending.length - MAX_PENDING);
      this.log.warn('request statistics older than a day were dropped unsent', { seconds: dropped.length });
    }
  }

  /** Sends every completed second (in order); what cannot be sent now stays for the next time. */
  flush(bus: Bus): Promise<void> {
    if (!this.sending) {
      this.sending = this.send(bus).finally(() => {
        this.sending = undefined;
      });
    }
    return this.sending;
  }

  private async send(bus: Bus): Promise<void> {
    if (this.current && this.current.second < Math.floor(this.now() / 1000)) this.close();
    try {
      while (this.pending.length > 0 && bus.connected) {
        const batch = this.pending[0]!;
        await bus.publish(REQUESTS_SUBJECT, batch, { msgId: `${batch.process}:${batch.product}:${batch.second}` });
        this.pending.shift();
      }
    } catch (error) {
      this.log.debug('request statistics not sent yet', { pending: this.pending.length, error: error as Error });
    }
  }

  /** Reports every second (never while a request waits). */
  start(bus: Bus, intervalMs = 1000) {
    this.timer = setInterval(() => void this.flush(bus), intervalMs);
  }

  async stop(bus: Bus) {
    clearInterval(this.timer);
    this.close();
    await this.flush(bus);
  }

  /** Prometheus text exposition format, version 0.0.4. */
  metricsText(extra: Record<string, number> = {}): string {
    const lines: string[] = [];
    lines.push('# HELP http_requests_total HTTP requests answered, by product, route and status.');
    lines.push('# TYPE http_requests_total counter');
    for (const [key, n] of this.totals) {
      const [product, endpoint, status] = key.split('\u0000') as [string, string, string];
      lines.push(`http_requests_total{product="${label(product)}",route="${label(endpoint)}",status="${status}"} ${n}`);
    }
    lines.push('# HELP http_request_duration_seconds Time to answer, by product and route.');
    lines.push('# TYPE http_request_duration_seconds histogram');
    for (const [key, h] of this.durations) {
      const [product, endpoint] = key.split('\u0000') as [string, string];
      const labels = `product="${label(product)}",route="${label(endpoint)}"`;
      BUCKETS.forEach((le, i) => lines.push(`http_request_duration_seconds_bucket{${labels},le="${le}"} ${h.counts[i]}`));
      lines.push(`http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      lines.push(`http_request_duration_seconds_sum{${labels}} ${h.sum}`);
      lines.push(`http_request_duration_seconds_count{${labels}} ${h.count}`);
    }
    const memory = process.memoryUsage();
    const cpu = process.cpuUsage();
    const gauges: [string, string, string, number][] = [
      ['process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', memory.rss],
      ['process_cpu_seconds_total', 'counter', 'User and system CPU time spent, in seconds.', (cpu.user + cpu.system) / 1e6],
      ['process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch, in seconds.', this.started],
      ['telemetry_unsent_seconds', 'gauge', 'Seconds of request statistics waiting for the bus.', this.pending.length],
      ...Object.entries(extra).map(([name, v]): [string, string, string, number] => [name, 'gauge', name.replaceAll('_', ' '), v]),
    ];
    for (const [name, type, help, value] of gauges) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
