import { Type, type Static } from '@sinclair/typebox';
import type { Bus } from '../bus/types.ts';
import type { Logger } from './log.ts';

/**
 * Request telemetry: every process counts the requests it answers, in memory, and reports one
 * aggregate per second on the bus (the statistics domain adds them up), so no request waits on a
 * write. (`/metrics` is the process's prom-client registry: platform/observability/metrics.ts.)
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

export class RequestMeter {
  private current: { second: number; batch: Map<string, { byStatus: Map<string, number>; byEndpoint: Map<string, number>; total: number }> } | undefined;
  private readonly pending: RequestBatch[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;
  private sending: Promise<void> | undefined;

  constructor(
    readonly process: string,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts one answered request. `endpoint` is `METHOD /route/{pattern}`. */
  record(product: string, endpoint: string, status: number) {
    const second = Math.floor(this.now() / 1000);
    if (this.current && this.current.second !== second) this.close();
    this.current ??= { second, batch: new Map() };
    let p = this.current.batch.get(product);
    if (!p) this.current.batch.set(product, (p = { byStatus: new Map(), byEndpoint: new Map(), total: 0 }));
    const code = String(status);
    p.total++;
    p.byStatus.set(code, (p.byStatus.get(code) ?? 0) + 1);
    p.byEndpoint.set(endpoint, (p.byEndpoint.get(endpoint) ?? 0) + 1);
  }

  /** Seconds counted but not yet sent (waiting for the bus). */
  get unsent(): number {
    return this.pending.length;
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
}
