import { describe, expect, test } from 'bun:test';
import { LogSink, type ChunkWriter } from './log-sink.ts';

/** A stderr of our own: each write waits until `release` is called, or answers at once. */
function stderr({ stalled = false } = {}) {
  const written: string[] = [];
  const synced: string[] = [];
  const waiting: (() => void)[] = [];
  let writes = 0;
  const write: ChunkWriter = (chunk, done) => {
    writes++;
    const finish = () => {
      written.push(Buffer.from(chunk).toString());
      done(null, chunk.length);
    };
    if (stalled) waiting.push(finish);
    else queueMicrotask(finish);
  };
  return {
    written,
    synced,
    writes: () => writes,
    text: () => written.join('') + synced.join(''),
    release: () => waiting.splice(0).forEach((f) => f()),
    options: (maxBytes: number) => ({ maxBytes, write, writeSync: (chunk: Uint8Array) => void synced.push(Buffer.from(chunk).toString()) }),
  };
}

/** Polls `probe` until it holds (1 s at most). */
async function until(probe: () => boolean) {
  const deadline = performance.now() + 1000;
  while (!probe()) {
    if (performance.now() > deadline) throw new Error('not within 1 s');
    await Bun.sleep(1);
  }
}

const line = (n: number) => `{"n":${n}}\n`;
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => line(from + i)).join('');

describe('log sink', () => {
  test('writes the lines in the order they came, those logged together in one write', async () => {
    const out = stderr();
    const sink = new LogSink(out.options(1 << 20));
    for (let n = 0; n < 100; n++) sink.write(line(n));
    expect(out.writes()).toBe(0); // nothing written while the caller runs
    await sink.drain();
    for (let n = 100; n < 150; n++) sink.write(line(n));
    await sink.drain();
    expect(out.text()).toBe(lines(0, 150));
    expect(out.writes()).toBe(2);
    expect(sink.dropped).toBe(0);
  });

  test('a write that took part of a chunk is followed by the rest', async () => {
    const written: string[] = [];
    const sink = new LogSink({
      maxBytes: 1 << 20,
      write: (chunk, done) => {
        const half = Math.ceil(chunk.length / 2);
        written.push(Buffer.from(chunk.subarray(0, half)).toString());
        queueMicrotask(() => done(null, half));
      },
      writeSync: () => {},
    });
    for (let n = 0; n < 10; n++) sink.write(line(n));
    await sink.drain();
    expect(written.join('')).toBe(lines(0, 10));
  });

  test('with stderr stalled, lines past the buffer are dropped and counted, the caller never waits, and order holds once it moves', async () => {
    const out = stderr({ stalled: true });
    const each = line(0).length; // every line below is as long as this one (n < 10)
    const sink = new LogSink(out.options(each * 5));
    for (let n = 0; n < 3; n++) sink.write(line(n));
    await until(() => out.writes() === 1); // the first write is under way, and stalls
    const started = performance.now();
    for (let n = 3; n < 10; n++) sink.write(line(n)); // 5 fit while the first write waits: 3..7
    expect(performance.now() - started).toBeLessThan(50);
    expect(sink.dropped).toBe(2);
    out.release();
    await until(() => out.writes() === 2);
    out.release();
    await sink.drain(500);
    expect(out.text()).toBe(lines(0, 8));
  });

  test('flushSync writes what is buffered at once, in order, after what was written', async () => {
    const out = stderr();
    const sink = new LogSink(out.options(1 << 20));
    for (let n = 0; n < 5; n++) sink.write(line(n));
    await sink.drain();
    for (let n = 5; n < 9; n++) sink.write(line(n));
    sink.flushSync(); // as at exit: no later turn of the event loop
    expect(out.synced).toEqual([lines(5, 9)]);
    expect(out.text()).toBe(lines(0, 9));
    expect(sink.waiting).toBe(0);
  });

  test('flushSync does not wait for a stalled stderr: what it could not write is counted as dropped, the write under way too', async () => {
    const out = stderr({ stalled: true });
    const sink = new LogSink(out.options(1 << 20));
    sink.write(line(0));
    await until(() => out.writes() === 1);
    sink.write(line(1));
    sink.write(line(2));
    sink.flushSync();
    expect(out.synced).toEqual([]);
    // (line 0 is under way: it may yet reach stderr, or not; counted, so none is lost untold)
    expect(sink.dropped).toBe(3);
  });
});
