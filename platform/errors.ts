/**
 * Domain errors carry a stable code (`ITEM.NOT_FOUND`); they never know an HTTP status.
 * The platform maps the code's last segment to HTTP once (http.ts) and to NATS once
 * (bus/nats.ts, service error headers).
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
