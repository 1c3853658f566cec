import type { Logger } from './log.ts';

/**
 * Keeps a process's heap near what it holds. JavaScriptCore collects when allocation says so,
 * and under a read load that misses its copies (every miss parses a message) garbage piled up to
 * three times the live heap before a collection, and the RSS with it. Every second this looks
 * at the heap; past `floorMb` and half again what the last full collection left, it collects
 * fully (tens of milliseconds, a few times a minute under load, never when idle).
 */
export function guardMemory(log: Logger, floorMb = 48): () => void {
  let live = process.memoryUsage().heapUsed;
  const timer = setInterval(() => {
    const used = process.memoryUsage().heapUsed;
    if (used < floorMb * 2 ** 20 || used < live * 1.5) return;
    const started = performance.now();
    Bun.gc(true);
    live = process.memoryUsage().heapUsed;
    log.debug('full collection', { beforeMb: used >> 20, afterMb: live >> 20, ms: Math.round(performance.now() - started) });
  }, 1000);
  timer.unref();
  return () => clearInterval(timer);
}
