import { AckPolicy, DeliverPolicy, headers as natsHeaders, type JsMsg, nanos, RetentionPolicy, StorageType } from 'nats';
import { DomainError } from '../../errors.ts';
import { detached, inbound, outgoingHeaders } from '../../observability/request-context.ts';
import type { Consumer, ConsumerSpec, StreamSpec } from '../types.ts';
import type { Connection } from './connection.ts';
import { decode, encode, sleep, unavailable, withTimeout } from './wire.ts';

/** A consumption with messages waiting on the server and none delivered for this long is restarted. */
const STALL_MS = 3000;
/** Events handled together at most (a consumer's `handleBatch`). */
const MAX_BATCH = 500;
/** How often a barrier looks at a consumer that other processes share, when this one did not move. */
const CAUGHT_UP_LOOK_MS = 25;

/** Event streams over JetStream: declared streams, publishes, durable pull consumers. */
export class Streams {
  private readonly streams = new Map<string, StreamSpec>();

  constructor(private readonly c: Connection) {}

  /** Re-creates the streams this process declared: a NATS re-created without its store lost them. */
  async restore() {
    for (const spec of this.streams.values()) {
      await this.createStream(spec).catch((error) => this.c.log.warn('could not ensure stream', { stream: spec.name, error }));
    }
  }

  async ensureStream(spec: StreamSpec): Promise<void> {
    const { c } = this;
    this.streams.set(spec.name, spec);
    if (!c.connected) return;
    // A cluster that is forming or electing a leader may not answer in time: that must not stop
    // the process. Publishes and consumers make the stream again when they need it; until one
    // exists, this tries every second.
    await this.createStream(spec).catch((error) => {
      c.log.warn('could not ensure a stream; trying again', { stream: spec.name, error: error as Error });
      const retry = setInterval(() => {
        if (c.closed) return clearInterval(retry);
        if (!c.connected) return;
        this.createStream(spec).then(
          () => clearInterval(retry),
          () => {},
        );
      }, 1000);
    });
  }

  /** The one place streams are made (or given this process's replicas). */
  private async createStream(spec: StreamSpec) {
    const { c } = this;
    const config = {
      name: c.named(spec.name),
      subjects: spec.subjects.map((s) => c.subject(s)),
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      num_replicas: c.replicas,
      duplicate_window: nanos(120_000),
      max_age: nanos(7 * 24 * 3600_000),
    };
    try {
      const { config: now } = await c.jsm!.streams.info(config.name);
      // Changed only when it differs (NATS_REPLICAS applied to a stream made before): an update
      // is a cluster-wide operation, and a consumer restart must not cost one.
      const same =
        (now.num_replicas || 1) === config.num_replicas &&
        now.max_age === config.max_age &&
        now.duplicate_window === config.duplicate_window &&
        config.subjects.length === (now.subjects ?? []).length &&
        config.subjects.every((s) => now.subjects?.includes(s));
      if (same) return;
      if ((now.num_replicas || 1) !== config.num_replicas) c.log.info('changing the replicas of a stream', { stream: config.name, from: now.num_replicas, to: config.num_replicas });
      await c.jsm!.streams.update(config.name, config);
    } catch (error) {
      if ((error as { code?: string }).code === '404' || /stream not found/i.test((error as Error).message)) {
        await c.jsm!.streams.add(config);
      } else throw error;
    }
  }

  async publish(subject: string, payload: unknown, { msgId, headers }: { msgId: string; headers?: Record<string, string> }): Promise<void> {
    const { c } = this;
    if (!c.connected || !c.js) throw unavailable(`publish ${subject}`);
    const h = natsHeaders();
    h.set('Nats-Msg-Id', msgId);
    for (const [k, v] of Object.entries(headers ?? outgoingHeaders())) h.set(k, v);
    try {
      await c.js.publish(c.subject(subject), encode(payload), { msgID: msgId, headers: h, timeout: 2000 });
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === '503') {
        // No stream captures it: maybe NATS lost its store. Re-create what we declared; the
        // caller (the outbox relay) tries again.
        await this.restore();
        throw new DomainError('BUS.NO_RESPONDERS', `no stream captures ${subject}`);
      }
      throw unavailable(`publish ${subject}: ${(error as Error).message}`);
    }
  }

  async consume(spec: ConsumerSpec): Promise<Consumer> {
    const { c } = this;
    let stopped = false;
    let current: { stop(): void; close?(): Promise<void | Error> } | undefined;
    const stream = c.named(spec.stream);
    const ensureConsumer = async () => {
      if (!this.streams.has(spec.stream)) throw new Error(`stream ${spec.stream} was not declared with ensureStream`);
      await this.createStream(this.streams.get(spec.stream)!);
      try {
        await c.jsm!.consumers.info(stream, spec.durable);
      } catch {
        await c.jsm!.consumers.add(stream, {
          durable_name: spec.durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: spec.filterSubject ? c.subject(spec.filterSubject) : undefined,
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
        await inbound('event', m.subject, (name) => m.headers?.get(name), c.log, () => spec.handler(eventOf(m)));
        return true;
      } catch (error) {
        const attempt = m.info.redeliveryCount;
        c.log.warn('event handler failed; will redeliver', { subject: m.subject, msgId: m.headers?.get('Nats-Msg-Id'), attempt, error: error as Error });
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
            await inbound('event', first.subject, (name) => first.headers?.get(name), c.log, () => spec.handleBatch!(batch.map(eventOf)));
            handled = batch;
          } catch (error) {
            c.log.debug('a batch of events failed; handling them one by one', { stream: spec.stream, events: batch.length, error: error as Error });
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
      await c.whenConnected();
      while (!stopped && !c.closed) {
        try {
          if (!c.connected) {
            await sleep(200);
            continue;
          }
          await ensureConsumer();
          const consumer = await c.js!.consumers.get(stream, spec.durable);
          const messages = await consumer.consume({ max_messages: 64, expires: 2000 });
          current = messages;
          let lastDelivery = Date.now();
          const watchdog = setInterval(async () => {
            if (!c.connected) return;
            try {
              // Events wait on the server but none has come for a while: the pull is stuck.
              const info = await c.jsm!.consumers.info(stream, spec.durable);
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
          if (!stopped) c.log.debug('consumer interrupted', { stream: spec.stream, error: error as Error });
        }
        if (!stopped) await sleep(250);
      }
    };
    detached(run); // (resumes by itself after a reconnect, as the replicas do)
    const stop = async () => {
      stopped = true;
      current?.stop();
    };
    c.stoppers.add(stop);
    return {
      // The target is the last event the stream's leader has stored for the consumer (a leader
      // answers, not a replica: the consumer's own numbers come from the replica it runs on,
      // which may not have an event the leader acknowledged yet). Then the consumer is looked at
      // once, and again only when this process acknowledged more (or, for other processes of the
      // durable, every CAUGHT_UP_LOOK_MS): no polling every millisecond.
      caughtUp: async (timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        const left = () => Math.max(1, deadline - Date.now());
        if (!c.connected) return false;
        let target: number;
        try {
          target = await lastStored(c, stream, c.subject(spec.filterSubject ?? '>'), left());
        } catch {
          return false;
        }
        if (target === 0) return true;
        while (c.connected && Date.now() <= deadline) {
          try {
            const info = await withTimeout(c.jsm!.consumers.info(stream, spec.durable), left());
            if (info.ack_floor.stream_seq >= target) return true;
            if (info.num_pending === 0 && info.num_ack_pending === 0 && info.delivered.stream_seq >= target) return true;
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
        const info = await c.jsm!.consumers.info(stream, spec.durable);
        return info.num_pending + info.num_ack_pending;
      },
      stop,
    };
  }
}

/**
 * The sequence of the last message on `subject` (wildcards allowed) as the stream's leader has
 * it (`STREAM.MSG.GET` is answered by the leader alone); 0 when there is none. Throws when no
 * leader answers in time.
 */
async function lastStored(c: Connection, stream: string, subject: string, timeoutMs: number): Promise<number> {
  const msg = await c.nc!.request(`$JS.API.STREAM.MSG.GET.${stream}`, encode({ last_by_subj: subject }), { timeout: timeoutMs });
  const answer = decode(msg.data) as { message?: { seq: number }; error?: { code: number; description: string } };
  if (answer.error) {
    if (answer.error.code === 404) return 0;
    throw new Error(`${stream}: ${answer.error.code} ${answer.error.description}`);
  }
  return answer.message!.seq;
}
