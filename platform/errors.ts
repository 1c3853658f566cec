/**
 * Domain errors carry a stable code (`ITEM.NOT_FOUND`); they never know an HTTP status.
 * The platform maps the code's last segment to HTTP once (http.ts) and to NATS once
 * (bus/nats/services.ts, service error headers).
 */
export type ErrorKind =
  | 'INVALID'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'UNAVAILABLE'
  | 'TIMEOUT'
  | 'NO_RESPONDERS'
  | 'INTERNAL';

export class DomainError extends Error {
  constructor(
    /** `<DOMAIN>.<KIND>`, e.g. `ITEM.NOT_FOUND`. */
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DomainError';
  }

  get kind(): ErrorKind {
    return kindOf(this.code);
  }
}

const kinds = new Set<ErrorKind>([
  'INVALID',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'UNAVAILABLE',
  'TIMEOUT',
  'NO_RESPONDERS',
  'INTERNAL',
]);

export function kindOf(code: string): ErrorKind {
  const last = code.slice(code.lastIndexOf('.') + 1) as ErrorKind;
  return kinds.has(last) ? last : 'INTERNAL';
}

export const httpStatusOf: Record<ErrorKind, number> = {
  INVALID: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAVAILABLE: 503,
  TIMEOUT: 503,
  NO_RESPONDERS: 503,
  INTERNAL: 500,
};

/** True for failures that mean "a dependency is down", not "the request is wrong". */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof DomainError) {
    return error.kind === 'UNAVAILABLE' || error.kind === 'TIMEOUT' || error.kind === 'NO_RESPONDERS';
  }
  return false;
}

/**
 * SQLSTATEs that say "the database cannot serve this now", not "the request is wrong": the
 * connection could not be made or was lost (class 08, 57P01 admin shutdown, 57P02, 57P03
 * starting up or shutting down), the database or role does not exist or may not log in (3D000,
 * 28000, 28P01), too many connections or another resource exhausted (class 53), the statement or
 * lock timeout of a request path (57014, 55P03), and the transient conflicts a retry resolves
 * (40001, 40P01).
 */
const unavailableStates = new Set(['3D000', '28000', '28P01', '57P01', '57P02', '57P03', '57014', '55P03', '40001', '40P01']);
/** Socket-level failures of the driver. */
const unavailableErrnos = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ConnectionRefused', 'ConnectionClosed']);
/** What pg, pg-pool and PGlite say when there is no usable connection (they set no code). */
const unavailableMessages =
  /Connection terminated|connection timeout|timeout expired|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection refused|not currently accepting connections|does not allow connections|Cannot use a pool after calling end|is not queryable|PGlite is clos|driver has already been destroyed/i;

/** The hint of a 503 for each kind of database failure: what happened, in the client's terms. */
function databaseHint(state: string): string {
  if (state === '57014' || state === '55P03') return 'the database did not answer within the time limit of a request (a lock or a slow statement); nothing was changed, try again';
  if (state === '40001' || state === '40P01') return 'the change collided with another one at the same moment; nothing was changed, try again';
  return 'the database of this service is not reachable';
}

/**
 * Turns a driver error (pg or PGlite) that means "the database cannot serve this now" into
 * DATABASE.UNAVAILABLE (503); anything else — a bug, a constraint — is returned as it is.
 */
export function databaseError(error: unknown): unknown {
  if (!(error instanceof Error) || error instanceof DomainError) return error;
  const code = String((error as { code?: unknown }).code ?? '');
  if (unavailableStates.has(code) || code.startsWith('08') || code.startsWith('53')) return new DomainError('DATABASE.UNAVAILABLE', databaseHint(code));
  if (unavailableErrnos.has(code) || unavailableMessages.test(error.message)) return new DomainError('DATABASE.UNAVAILABLE', databaseHint(''));
  // A connect to a name that resolves to several addresses fails with all of them.
  if (error instanceof AggregateError && error.errors.some((e) => databaseError(e) instanceof DomainError)) return new DomainError('DATABASE.UNAVAILABLE', databaseHint(''));
  return error;
}

/** True when `databaseError` would turn the error into a 503. */
export const isDatabaseUnavailable = (error: unknown): boolean => !(error instanceof DomainError) && databaseError(error) instanceof DomainError;
