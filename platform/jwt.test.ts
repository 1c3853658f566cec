import { describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { JwtError, signJwt, verifyJwt } from './jwt.ts';

const SECRET = 'unit-test-secret-0123456789abcdef';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const reason = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return error instanceof JwtError ? error.reason : `not a JwtError: ${error}`;
  }
  return 'accepted';
};

describe('JWT (HS256)', () => {
  test('signJwt / verifyJwt — round-trips the claims, with iat and exp added', () => {
    const now = Date.UTC(2026, 0, 1);
    const token = signJwt({ sub: 'alice', typ: 'access' }, SECRET, 900, now);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(verifyJwt(token, SECRET, now + 1000)).toEqual({ sub: 'alice', typ: 'access', iat: now / 1000, exp: now / 1000 + 900 });
  });

  test('verifyJwt — a token made by another HS256 implementation verifies (standard signing input)', () => {
    const body = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64({ sub: 'bob', exp: 4_000_000_000, iat: 1 })}`;
    const token = `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
    expect(verifyJwt(token, SECRET).sub).toBe('bob');
  });

  test('verifyJwt — refuses an expired token, at the second it expires', () => {
    const token = signJwt({ sub: 'a' }, SECRET, 60, 0);
    expect(reason(() => verifyJwt(token, SECRET, 59_999))).toBe('accepted');
    expect(reason(() => verifyJwt(token, SECRET, 60_000))).toBe('expired');
  });

  test('verifyJwt — refuses any algorithm but HS256, none included', () => {
    const payload = b64({ sub: 'a', exp: 4_000_000_000, iat: 1 });
    expect(reason(() => verifyJwt(`${b64({ alg: 'none' })}.${payload}.`, SECRET))).toBe('algorithm');
    expect(reason(() => verifyJwt(`${b64({ alg: 'HS384' })}.${payload}.x`, SECRET))).toBe('algorithm');
    expect(reason(() => verifyJwt(`${b64({ typ: 'JWT' })}.${payload}.x`, SECRET))).toBe('algorithm');
  });

  test('verifyJwt — refuses another secret, a changed payload, a changed or cut signature', () => {
    const token = signJwt({ sub: 'a' }, SECRET, 60);
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(reason(() => verifyJwt(token, `${SECRET}x`))).toBe('signature');
    expect(reason(() => verifyJwt(`${h}.${b64({ sub: 'admin', exp: 4_000_000_000, iat: 1 })}.${s}`, SECRET))).toBe('signature');
    expect(reason(() => verifyJwt(`${h}.${p}.${s.slice(0, -2)}`, SECRET))).toBe('signature');
    expect(reason(() => verifyJwt(`${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`, SECRET))).toBe('signature');
  });

  test('verifyJwt — refuses what is not a JWT at all', () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d', 'a b.c.d', `${b64({ alg: 'HS256' })}.!!.x`, `not-json.${b64({})}.x`]) {
      expect({ token, reason: reason(() => verifyJwt(token, SECRET)) }).toEqual({ token, reason: 'malformed' });
    }
  });

  test('verifyJwt — refuses a signed payload without a numeric exp, or that is not an object', () => {
    const sign = (payload: string) => {
      const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${payload}`;
      return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
    };
    expect(reason(() => verifyJwt(sign(b64({ sub: 'a' })), SECRET))).toBe('malformed');
    expect(reason(() => verifyJwt(sign(b64({ sub: 'a', exp: '4000000000' })), SECRET))).toBe('malformed');
    expect(reason(() => verifyJwt(sign(b64(42)), SECRET))).toBe('malformed');
    expect(reason(() => verifyJwt(sign(Buffer.from('{not json').toString('base64url')), SECRET))).toBe('malformed');
  });
});
