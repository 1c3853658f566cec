import pino from 'pino';
import { fdSink } from './log-sink.ts';
import { prettyLine } from './pretty.ts';

/**
 * Structured logs with pino: one JSON object per line on stderr, so stdout stays free for tools.
 * Every line written while a request or a message is handled carries its request id and trace
 * (request-context.ts sets the source of `context`). Errors keep their stack and cause; what
 * could be a credential is never written: known fields are redacted, and anything that looks
 * like a JWT is cut out of messages and fields.
 *
 * Lines leave through a bounded buffer written asynchronously (log-sink.ts): logging never waits
 * for stderr; a full buffer drops lines and counts them (`log_lines_dropped_total`); what is
 * buffered is written before the process exits. On a terminal the lines are made readable
 * (pretty.ts); anywhere else (a pipe, a file, a container) they stay JSON.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /**
   * A line whose fields are plain values under names that are never credentials, formatted here
   * instead of through pino's generic path (mixin, redaction, serializers) — the one line of every
   * request; the same keys in the same order. Optional: a logger without it (a test's) gets the
   * line through its `info`/`debug`.
   */
  plain?(level: Level, msg: string, fields: Record<string, string | number | boolean | null>): void;
}

let threshold: number = order[(process.env.LOG_LEVEL as Level) ?? 'info'] ?? order.info;

export function setLogLevel(level: Level): void {
  threshold = order[level];
}

/** The fields of the request or message being handled (set by request-context.ts). */
let context: () => Record<string, unknown> | undefined = () => undefined;
export function setLogContext(source: () => Record<string, unknown> | undefined): void {
  context = source;
}

const CREDENTIALS = ['pw', 'currentPw', 'newPw', 'password', 'temporaryPassword', 'token', 'accessToken', 'refreshToken', 'authorization', 'cookie', 'user-token', 'USER-TOKEN', 'userToken', 'jwt', 'secret'];
/**
 * Those names at the top of a line's fields and under `headers`, `body`, `request.headers`.
 * Explicit paths only: fast-redact's wildcards (`*.pw`, `*.*.pw`) cost 2 to 10 times a whole
 * line, on every line.
 */
const REDACT = ['', 'headers', 'body', 'request.headers'].flatMap((at) => CREDENTIALS.map((k) => (k.includes('-') ? `${at}["${k}"]` : at ? `${at}.${k}` : k)));

const JWT = /eyJ[\w-]{4,}\.[\w-]+\.[\w-]*/g;
/** A JWT (or anything shaped like one) never reaches the log, wherever it hides in a text. */
export const scrub = (text: string): string => (text.includes('eyJ') ? text.replace(JWT, '[jwt]') : text);

const serializeError = (value: unknown): unknown => {
  if (!(value instanceof Error)) return value;
  const out = pino.stdSerializers.errWithCause(value) as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(out)) if (typeof v === 'string') out[k] = scrub(v);
  return out;
};

/** LOG_BUFFER_BYTES: most bytes of lines waiting for stderr (1 MiB by default; config.ts checks it). */
const bufferBytes = Number(process.env.LOG_BUFFER_BYTES) > 0 ? Math.floor(Number(process.env.LOG_BUFFER_BYTES)) : 1024 * 1024;
const sink = fdSink(2, bufferBytes);
const pretty = process.stderr.isTTY === true;
// process.exit() and the end of the event loop both come here: what is buffered is written last.
process.on('exit', () => sink.flushSync());

/** The buffer's size, once the configuration is read (LOG_BUFFER_BYTES). */
export function setLogBufferBytes(bytes: number): void {
  sink.maxBytes = bytes;
}

/** Lines dropped so far because the buffer was full (or stderr gone): the metric's figure. */
export const droppedLogLines = (): number => sink.dropped;

/** Resolves once every line logged so far has been written to stderr (at most `ms`). */
export const flushLogs = (ms?: number): Promise<void> => sink.drain(ms);

const out = pretty ? (line: string) => sink.write(prettyLine(line)) : (line: string) => sink.write(line);

const root = pino(
  {
    level: 'debug', // filtered before pino by `threshold`, which may change after children exist
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: serializeError, error: serializeError, cause: serializeError },
    redact: { paths: REDACT, censor: '[redacted]' },
    mixin: () => context() ?? {},
  },
  { write: out },
);

function clean(fields: Record<string, unknown> | undefined): Record<string, unknown> {
  if (!fields) return {};
  let out: Record<string, unknown> | undefined;
  for (const k in fields) {
    const v = fields[k];
    if (typeof v === 'string' && v.includes('eyJ')) (out ??= { ...fields })[k] = scrub(v);
    else if (v instanceof Error && k !== 'error' && k !== 'err') (out ??= { ...fields })[k] = serializeError(v);
  }
  return out ?? fields;
}

/** `fields` without the keys a child logger already binds (a line names each key once). */
function unbound(fields: Record<string, unknown> | undefined, bound: readonly string[]) {
  if (!fields || bound.length === 0 || !bound.some((k) => k in fields)) return fields;
  const out = { ...fields };
  for (const k of bound) delete out[k];
  return out;
}

/** The time of a line as pino writes it (ISO 8601, UTC, ms), made once per millisecond. */
let clock = { ms: 0, iso: '' };
function isoNow(): string {
  const ms = Date.now();
  if (ms !== clock.ms) clock = { ms, iso: new Date(ms).toISOString() };
  return clock.iso;
}

/** A value of a plain line as JSON (undefined: left out, as JSON.stringify and pino do). */
const plainJson = (value: unknown): string => JSON.stringify(typeof value === 'string' ? scrub(value) : value);

function wrap(logger: pino.Logger, bound: readonly string[] = []): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < threshold) return;
    logger[level](clean(unbound(fields, bound)), scrub(msg));
  };
  // The logger's own fields (its children's), as pino serialized them once: `,"pid":1,"port":5001`.
  const bindings = ((logger as unknown as Record<symbol, unknown>)[pino.symbols.chindingsSym] as string | undefined) ?? '';
  return {
    plain: (level, msg, fields) => {
      if (order[level] < threshold) return;
      // As pino writes it: level, time, the bindings, the context (mixin), the fields, msg.
      let line = `{"level":"${level}","time":"${isoNow()}"${bindings}`;
      const mixed = context();
      if (mixed) for (const k in mixed) if (mixed[k] !== undefined) line += `,"${k}":${plainJson(mixed[k])}`;
      const own = unbound(fields, bound);
      for (const k in own) if (own[k] !== undefined) line += `,"${k}":${plainJson(own[k])}`;
      out(`${line},"msg":${plainJson(msg)}}\n`);
    },
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => wrap(logger.child(clean(unbound(fields, bound))), [...bound, ...Object.keys(fields)]),
  };
}

export function createLogger(base: Record<string, unknown> = {}): Logger {
  return wrap(Object.keys(base).length > 0 ? root.child(clean(base)) : root, Object.keys(base));
}
