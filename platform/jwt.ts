import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from 'jose';

/**
 * JSON Web Tokens, HS256 only: what minifb's access and refresh tokens are, made and checked by
 * jose. The algorithm is pinned before jose sees the token: a token claiming any other one
 * (`none`, RS256 with the secret as a public key, …) is refused before its signature is looked
 * at, and every refusal says which of four things is wrong.
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

/** The HMAC key of a secret, imported once. */
const keys = new Map<string, Promise<CryptoKey>>();
function keyOf(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) keys.set(secret, (key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify'])));
  return key;
}

/** Signs `claims`, adding `iat` and `exp` (`ttlSeconds` from now). */
export async function signJwt(claims: Record<string, unknown>, secret: string, ttlSeconds: number, now = Date.now()): Promise<string> {
  const iat = Math.floor(now / 1000);
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuedAt(iat).setExpirationTime(iat + ttlSeconds).sign(await keyOf(secret));
}

/**
 * Tokens whose signature has been checked, by secret and token, with their claims: a client sends
 * the same access token with every request for its lifetime, and the HMAC and jose's parsing of
 * it cost more than the rest of a cached read. The token's own bytes are the key, so a changed
 * byte is a miss and checked in full; expiry is still judged on every call. At most
 * VERIFIED_MAX tokens are kept (the oldest checked goes first): bounded whatever the traffic.
 */
const VERIFIED_MAX = 10_000;
const verified = new Map<string, JwtClaims>();

const remember = (key: string, claims: JwtClaims) => {
  if (verified.size >= VERIFIED_MAX) verified.delete(verified.keys().next().value!);
  verified.set(key, claims);
};

/** Verifies the header, signature (constant time) and expiry at `now`; returns the claims (frozen: they may be shared) or throws JwtError. */
export async function verifyJwt(token: string, secret: string, now = Date.now()): Promise<JwtClaims> {
  const key = `${secret}\n${token}`;
  const known = verified.get(key);
  if (known) {
    // The rule jose applies: expired from the second `exp` names.
    if (known.exp <= Math.floor(now / 1000)) throw new JwtError('expired');
    return known;
  }
  const claims = Object.freeze(await verifyInFull(token, secret, now));
  // A token not valid before some time would need that judged too: checked in full each time.
  if (claims.nbf === undefined) remember(key, claims);
  return claims;
}

/** What a token's first use is checked for, by jose with the algorithm pinned. */
async function verifyInFull(token: string, secret: string, now: number): Promise<JwtClaims> {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) throw new JwtError('malformed');
  let alg: unknown;
  try {
    alg = decodeProtectedHeader(token).alg;
  } catch {
    throw new JwtError('malformed');
  }
  if (alg !== 'HS256') throw new JwtError('algorithm');
  // An HS256 signature is 32 bytes: one cut or padded is a wrong signature, not a wrong format.
  if (Buffer.from(parts[2]!, 'base64url').length !== 32) throw new JwtError('signature');
  try {
    const { payload } = await jwtVerify(token, await keyOf(secret), { algorithms: ['HS256'], requiredClaims: ['exp'], currentDate: new Date(now) });
    return payload as JwtClaims;
  } catch (error) {
    if (error instanceof errors.JWSSignatureVerificationFailed) throw new JwtError('signature');
    if (error instanceof errors.JWTExpired) throw new JwtError('expired');
    if (error instanceof errors.JOSEError) throw new JwtError('malformed');
    throw error;
  }
}
