import { write as writeFd, writeSync } from 'node:fs';

/**
 * Where log lines wait for stderr: a bounded buffer in memory, written out by one asynchronous
 * write at a time, so that a request never waits for a syscall (one synchronous write per request
 * line was 18 % of the CPU of a `GET /`). Lines gather for a few milliseconds (or until 64 KiB
 * wait) and leave in one write; those logged while a write is under way leave together in the next.
 *
 * Bounded: when the lines waiting reach `maxBytes` (the reader of stderr is slower than the
 * process, or has stalled), new lines are dropped and counted, rather than held without limit or
 * made to wait — the process keeps answering. Order is kept: a line leaves after every line
 * accepted before it.
 *
 * Never lost on a clean stop: `drain()` waits for what is buffered to be written, and
 * `flushSync()` writes what is left synchronously — the last thing a process does before it exits.
 */

/** Writes `chunk`, then calls `done` (with the error, if it failed). Never blocks the caller. */
export type ChunkWriter = (chunk: Uint8Array, done: (error?: NodeJS.ErrnoException | null, written?: number) => void) => void;

export interface LogSinkOptions {
  /** Most bytes waiting to be written; lines beyond are dropped and counted. */
  maxBytes: number;
  /** The asynchronous write (fs.write on the file descriptor by default). */
  write: ChunkWriter;
  /** The synchronous write of the last lines at exit. */
  writeSync: (chunk: Uint8Array) => void;
}

/** A write that answered EAGAIN (a non-blocking descriptor that is full) is tried again after this. */
const RETRY_MS = 10;
/**
 * Lines wait this long for others to leave with them: each write is a syscall on the thread pool,
 * which a write per turn of the event loop would pay for nearly every request under load.
 */
const GATHER_MS = 5;
/** Lines waiting past this many bytes leave at the next turn, without waiting for GATHER_MS. */
const CHUNK_BYTES = 64 * 1024;

export class LogSink {
  private pending: string[] = [];
  private pendingBytes = 0;
  /** The chunk being written and how much of it is written; undefined when no write is under way. */
  private inFlight: { bytes: Buffer; lines: number; offset: number } | undefined;
  private scheduled = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private waiters: (() => void)[] = [];
  /** Lines refused because the buffer was full, or lost because stderr refused them. */
  dropped = 0;

  /** Most bytes waiting (settable: the configuration is read after the first lines). */
  maxBytes: number;

  constructor(private readonly options: LogSinkOptions) {
    this.maxBytes = options.maxBytes;
  }

  /** Buffers one line (its newline included); drops it when the buffer is full. */
  write(line: string): void {
    // Counted in characters, not bytes (UTF-8 may take more): cheap, and near enough for a limit.
    if (this.pendingBytes + line.length > this.maxBytes) {
      this.dropped++;
      return;
    }
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.inFlight !== undefined) return; // the lines leave when that write is done
    if (this.timer === undefined) this.timer = setTimeout(this.flush, GATHER_MS);
    if (!this.scheduled && this.pendingBytes >= CHUNK_BYTES) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Bytes waiting, in flight included. */
  get waiting(): number {
    return this.pendingBytes + (this.inFlight ? this.inFlight.bytes.length - this.inFlight.offset : 0);
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.inFlight !== undefined) return;
    if (this.pending.length === 0) {
      for (const wake of this.waiters.splice(0)) wake();
      return;
    }
    const lines = this.pending.length;
    const bytes = Buffer.from(lines === 1 ? this.pending[0]! : this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    this.inFlight = { bytes, lines, offset: 0 };
    this.send();
  };

  private send(): void {
    const chunk = this.inFlight!;
    this.options.write(chunk.bytes.subarray(chunk.offset), (error, written = 0) => {
      if (error?.code === 'EAGAIN') {
        setTimeout(() => this.send(), RETRY_MS);
        return;
      }
      if (error) {
        // stderr is gone (EPIPE, EBADF): nothing more can be written there.
        this.dropped += chunk.lines;
      } else if (chunk.offset + written < chunk.bytes.length) {
        chunk.offset += written;
        this.send();
        return;
      }
      this.inFlight = undefined;
      this.flush();
    });
  }

  /** Resolves once every line buffered so far is written (or `ms` have passed). */
  drain(ms = 2000): Promise<void> {
    if (this.waiting === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  /**
   * Writes everything still waiting, synchronously: at exit, when no later turn of the event loop
   * will. Unless an asynchronous write is still under way: then the reader of stderr has not taken
   * what it was given (`drain` waited for it in vain), a synchronous write could hold the exit for
   * ever, and it could not tell how much of that write is done — what waits is counted as
   * dropped, and so are the lines of the write under way (they may still reach stderr, in part).
   */
  flushSync(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.pending.length;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    // (the chunk under way too: it may yet reach stderr, or not — counted, so that no line is
    // ever neither written nor counted)
    if (this.inFlight !== undefined) this.dropped += lines + this.inFlight.lines;
    else if (text.length > 0) {
      try {
        this.options.writeSync(Buffer.from(text));
      } catch {
        this.dropped += lines; // stderr is gone: nothing to write to
      }
    }
    for (const wake of this.waiters.splice(0)) wake();
  }
}

/** A sink writing to file descriptor `fd` (2: stderr). */
export function fdSink(fd: number, maxBytes: number): LogSink {
  return new LogSink({
    maxBytes,
    write: (chunk, done) => writeFd(fd, chunk, 0, chunk.length, null, done),
    writeSync: (chunk) => {
      for (let offset = 0; offset < chunk.length; ) offset += writeSync(fd, chunk, offset, chunk.length - offset);
    },
  });
}
