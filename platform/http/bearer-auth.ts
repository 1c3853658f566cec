import { Elysia } from 'elysia';
import { Type } from '@sinclair/typebox';
import { systemClock, type Clock } from '../clock.ts';
import { DomainError } from '../errors.ts';
import { errorResponses } from './schemas.ts';
import { JwtError, verifyJwt, type JwtClaims } from '../jwt.ts';

/** The header a route behind this plugin declares (its document shows the bearer security scheme). */
export const BearerHeader = Type.Object({ authorization: Type.Optional(Type.String({ description: 'Bearer <accessToken>' })) });

/** The error answers of a route behind this plugin: `statuses`, 401 (no valid token) and 503. */
export const bearerErrors = (...statuses: number[]) => errorResponses(...statuses, 401);

/** `access`: any signed-in user; `admin`: an administrator. */
export type AuthLevel = 'access' | 'admin';

/** What a route behind this plugin declares: who may call it, and the header that says who calls. */
export const guarded = <L extends AuthLevel>(level: L) => ({ auth: level, headers: BearerHeader });

/** Who is calling, or why they may not. */
export type CallerCheck<C> = { caller: C } | { refused: 'UNAUTHORIZED' | 'FORBIDDEN'; reason: string };

/** The caller of a check, or the refusal as a DomainError (401, 403). */
export function callerOf<C>(check: CallerCheck<C>): C {
  if ('refused' in check) throw new DomainError(`AUTH.${check.refused}`, check.reason);
  return check.caller;
}

export interface BearerAuthOptions<C> {
  /** Plugin name (Elysia de-duplicates plugins by name). */
  name: string;
  secret: string;
  /** Whose time tokens expire by (the system's unless a test's). */
  clock?: Clock;
  /**
   * Turns the claims of a valid access token into the caller (e.g. from a copy of the account
   * snapshot: the user still exists, the token was not revoked, the level is met), or says why
   * not (401, 403). Throws a DomainError (UNAVAILABLE) when it cannot tell.
   */
  caller: (claims: JwtClaims, level: AuthLevel) => CallerCheck<C> | Promise<CallerCheck<C>>;
}

/** The token of an `Authorization: Bearer <token>` header; 401 when there is none. */
export function bearerToken(authorization: string | null): string {
  if (!authorization) throw new DomainError('AUTH.UNAUTHORIZED', "Authorization header is missing: send 'Authorization: Bearer <accessToken>'");
  const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
  if (!match) throw new DomainError('AUTH.UNAUTHORIZED', "Authorization header must be 'Bearer <token>'");
  return match[1]!;
}

/** Verifies a signed token of the given type (`access`, `refresh`); 401 naming what is wrong. */
export async function verifyToken(token: string, secret: string, type: 'access' | 'refresh', clock: Clock = systemClock): Promise<JwtClaims> {
  let claims: JwtClaims;
  try {
    claims = await verifyJwt(token, secret, clock.now());
  } catch (error) {
    if (error instanceof JwtError) throw new DomainError('AUTH.UNAUTHORIZED', error.message);
    throw error;
  }
  if (claims.typ !== type) throw new DomainError('AUTH.UNAUTHORIZED', `${claims.typ === 'refresh' ? 'a refresh' : claims.typ === 'access' ? 'an access' : 'this'} token is not ${type === 'access' ? 'an access' : 'a refresh'} token`);
  return claims;
}

/**
 * Routes declare `{ auth: 'access' }` or `{ auth: 'admin' }` and receive `me`, the caller.
 * Authentication runs in the transform phase: after the body is parsed, before it is validated,
 * so a request without a valid token learns nothing about what its body should have been.
 */
export function bearerAuth<C>({ name, secret, clock = systemClock, caller }: BearerAuthOptions<C>) {
  return new Elysia({ name }).macro({
    auth: (level: AuthLevel) => ({
      async transform(context) {
        const claims = await verifyToken(bearerToken(context.request.headers.get('authorization')), secret, 'access', clock);
        (context as unknown as { caller: C }).caller = callerOf(await caller(claims, level));
      },
      resolve: (context) => ({ me: (context as unknown as { caller: C }).caller }),
    }),
  });
}
