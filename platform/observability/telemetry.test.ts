import { describe, expect, test } from 'bun:test';
import { MemoryBus } from '../bus/memory.ts';
import type { DeliveredEvent } from '../bus/types.ts';
import { createLogger } from './log.ts';
import { REQUESTS_SUBJECT, RequestMeter, TELEMETRY_STREAM, type RequestBatch } from './telemetry.ts';

const log = createLogger({ test: 'telemetry' });

async function harness() {
  let now = 1_800_000_000_000;
  const bus = new MemoryBus(log);
  await bus.ensureStream(TELEMETRY_STREAM);
  const got: DeliveredEvent[] = [];
  const consumer = await bus.consume({ stream: TELEMETRY_STREAM.name, durable: 'test', handler: async (e) => void got.push(e) });
  const meter = new RequestMeter('proc-1', log, () => now);
  // Delivery in process is asynchronous too: wait until the consumer has everything published.
  const flush = async (b = bus) => {
    await meter.flush(b);
    await consumer.caughtUp(1000);
  };
  return { bus, got, meter, flush, tick: (ms: number) => (now += ms), second: () => Math.floor(now / 1000) };
}

describe('request telemetry', () => {
  test('RequestMeter — one batch per product and second, by status and endpoint, once the second is over', async () => {
    const { got, meter, flush, tick, second } = await harness();
    const first = second();
    meter.record('minifb', 'GET /post/{id}', 200);
    meter.record('minifb', 'GET /post/{id}', 404);
    meter.record('minifb', 'POST /post', 201);
    await flush();
    expect(got).toHaveLength(0); // the second is not over yet
    tick(1000);
    meter.record('minifb', 'GET /post', 200);
    await flush();
    expect(got.map((e) => [e.subject, e.msgId])).toEqual([[REQUESTS_SUBJECT, `proc-1:minifb:${first}`]]);
    expect(got[0]!.payload).toEqual({
      process: 'proc-1',
      product: 'minifb',
      second: first,
      total: 3,
      byStatus: { '200': 1, '404': 1, '201': 1 },
      byEndpoint: { 'GET /post/{id}': 2, 'POST /post': 1 },
    } satisfies RequestBatch);
    tick(1000);
    await flush();
    expect(got.map((e) => (e.payload as RequestBatch).second)).toEqual([first, first + 1]);
  });

  test('RequestMeter — keeps what it cannot send while the bus is down, and sends it in order later', async () => {
    const { bus, got, meter, flush, tick } = await harness();
    let up = false;
    const flaky = Object.create(bus, { connected: { get: () => up } }) as MemoryBus;
    for (let i = 0; i < 3; i++) {
      meter.record('minifb', 'GET /me', 200);
      tick(1000);
      await flush(flaky);
    }
    expect(got).toHaveLength(0);
    up = true;
    await flush(flaky);
    const seconds = got.map((e) => (e.payload as RequestBatch).second);
    expect(seconds).toHaveLength(3);
    expect(seconds).toEqual([...seconds].sort());
  });

  test('RequestMeter — stop sends the second being counted', async () => {
    const { bus, got, meter, flush } = await harness();
    meter.record('minifb', 'GET /me', 401);
    await meter.stop(bus);
    await flush();
    expect(got.map((e) => (e.payload as RequestBatch).byStatus)).toEqual([{ '401': 1 }]);
  });
});
