import { describe, expect, test } from 'bun:test';
import type { Bus } from '../../platform/bus/types.ts';
import { visitsIn, type VisitsRecorded } from './contract/index.ts';
import { visitPublisher } from './use-cases.ts';

/**
 * The group commit of visits on the stream (the split mode's hot path): one publish under way at
 * a time; what comes meanwhile goes out together; a stream that does not answer holds a view at
 * most a second. (A stand-in for the bus's publish: what is tested is the batching around it —
 * the real NATS path is test/visit-durability.test.ts.)
 */
function publisherBus(answer: () => Promise<void>) {
  const sent: { payload: VisitsRecorded; msgId: string }[] = [];
  const bus = { kind: 'nats', connected: true, publish: async (_s: string, payload: unknown, o: { msgId: string }) => (sent.push({ payload: payload as VisitsRecorded, msgId: o.msgId }), answer()) };
  return { bus: bus as unknown as Bus, sent };
}
const visit = (n: number) => ({ visitId: `0190e4a0-0000-7000-8000-${String(n).padStart(12, '0')}`, userId: 1, itemId: n, at: '2026-12-02T00:00:00.000Z' });

describe('visit publisher', () => {
  test('a visit alone goes out at once as itself; those that come during a publish go out together, each answered with it', async () => {
    const { bus, sent } = publisherBus(() => Bun.sleep(20));
    const record = visitPublisher(bus);
    await Promise.all(Array.from({ length: 10 }, (_, i) => record(visit(i + 1))));
    expect(sent).toHaveLength(2);
    expect(sent[0]!.payload).toEqual(visit(1) as never);
    expect(sent[0]!.msgId).toBe(visit(1).visitId);
    expect(visitsIn(sent[1]!.payload).map((v) => v.itemId)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(sent[1]!.msgId).not.toBe(sent[0]!.msgId);
  });

  test('a failed publish fails every visit it carried (the caller keeps them in the outbox)', async () => {
    const { bus } = publisherBus(() => Promise.reject(new Error('no stream')));
    const record = visitPublisher(bus);
    const outcomes = await Promise.allSettled([record(visit(1)), record(visit(2)), record(visit(3))]);
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });

  test('a stream that does not answer holds a view half a second, not longer', async () => {
    const { bus } = publisherBus(() => new Promise<void>(() => {}));
    const record = visitPublisher(bus);
    const started = performance.now();
    const outcomes = await Promise.allSettled([record(visit(1)), record(visit(2))]);
    const elapsed = performance.now() - started;
    expect(outcomes.every((o) => o.status === 'rejected' && (o.reason as { code?: string }).code === 'BUS.TIMEOUT')).toBe(true);
    expect(elapsed).toBeGreaterThanOrEqual(490);
    // (half a second: the bound only catches a view held longer, whatever the machine is doing)
    expect(elapsed).toBeLessThan(3000);
  });
});
