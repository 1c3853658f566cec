import pino from 'pino';

/**
 * Structured logs with pino: one JSON object per line on stderr, so stdout stays free for tools.
 * Every line written while a request or a message is handled carries its request id and trace
 * (request-context.ts sets the source of `context`). Errors keep their stack and cause; what
 * could be a credential is never written: known fields are redacted, and anything that looks
 * like a JWT is cut out of messages and fields.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
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
  pino.destination({ fd: 2, sync: true }),
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

function wrap(logger: pino.Logger): Logger {
  const write = (level: Level, msg: string, fields?: Record<string, unknown>) => {
    if (order[level] < threshold) return;
    logger[level](clean(fields), scrub(msg));
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => wrap(logger.child(clean(fields))),
  };
}

export function createLogger(base: Record<string, unknown> = {}): Logger {
  return wrap(Object.keys(base).length > 0 ? root.child(clean(base)) : root);
}
