import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * JSON Web Tokens, HS256 only: what minifb's access and refresh tokens are. Small on purpose:
 * the header is fixed, so a token claiming any other algorithm (`none`, RS256 with the secret as
 * a public key, …) is refused before its signature is looked at.
 */
export type JwtClaims = Record<string, unknown> & { exp: number; iat: number };

export type JwtFailure = 'malformed' | 'algorithm' | 'signature' | 'expired';

export class JwtError extends Error {
  constructor(readonly reason: JwtFailure) {
    super(
      {
        malformed: 'the token is not a JWT',
        algorithm: 'the token is not signed with HS256',
        signature: 'the token signature is not valid',
        expired: 'the token has expired',
      }[reason],
    );
    this.name = 'JwtError';
  }
}

const base64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');
const HEADER = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));

const mac = (secret: string, input: string) => createHmac('sha256', secret).update(input).digest();

/** Signs `claims`, adding `iat` and `exp` (`ttlSeconds` from now). */
export function signJwt(claims: Record<string, unknown>, secret: string, ttlSeconds: number, now = Date.now()): string {
  const iat = Math.floor(now / 1000);
  const body = `${HEADER}.${base64url(JSON.stringify({ ...claims, iat, exp: iat + ttlSeconds }))}`;
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

/** Verifies the header, signature (constant time) and expiry; returns the claims or throws JwtError. */
export function verifyJwt(token: string, secret: string, now = Date.now()): JwtClaims {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new JwtError('malformed');
  const [header, payload, signature] = parts as [string, string, string];
  let alg: unknown;
  try {
    alg = (JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown }).alg;
  } catch {
    throw new JwtError('malformed');
  }
  if (alg !== 'HS256') throw new JwtError('algorithm');
  const expected = mac(secret, `${header}.${payload}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new JwtError('signature');
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw new JwtError('malformed');
  }
  if (typeof claims !== 'object' || claims === null || typeof (claims as JwtClaims).exp !== 'number') throw new JwtError('malformed');
  if ((claims as JwtClaims).exp * 1000 <= now) throw new JwtError('expired');
  return claims as JwtClaims;
}
