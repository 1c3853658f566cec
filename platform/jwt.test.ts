import { describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { JwtError, signJwt, verifyJwt } from './jwt.ts';

const SECRET = 'unit-test-secret-0123456789abcdef';
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const reason = async (f: () => Promise<unknown>) => {
  try {
    await f();
  } catch (error) {
    return error instanceof JwtError ? error.reason : `not a JwtError: ${error}`;
  }
  return 'accepted';
};

describe('JWT (HS256)', () => {
  test('signJwt / verifyJwt — round-trips the claims, with iat and exp added', async () => {
    const now = Date.UTC(2026, 0, 1);
    const token = await signJwt({ sub: 'alice', typ: 'access' }, SECRET, 900, now);
    expect(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(await verifyJwt(token, SECRET, now + 1000)).toEqual({ sub: 'alice', typ: 'access', iat: now / 1000, exp: now / 1000 + 900 });
  });

  test('verifyJwt — a token made by another HS256 implementation verifies (standard signing input)', async () => {
    const body = `${b64({ typ: 'JWT', alg: 'HS256' })}.${b64({ sub: 'bob', exp: 4_000_000_000, iat: 1 })}`;
    const token = `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
    expect((await verifyJwt(token, SECRET)).sub).toBe('bob');
  });

  test('verifyJwt — refuses an expired token, at the second it expires', async () => {
    const token = await signJwt({ sub: 'a' }, SECRET, 60, 0);
    expect(await reason(() => verifyJwt(token, SECRET, 59_999))).toBe('accepted');
    expect(await reason(() => verifyJwt(token, SECRET, 60_000))).toBe('expired');
  });

  test('verifyJwt — a token checked once is known by its bytes: still expires on time; a byte changed is checked in full', async () => {
    const token = await signJwt({ sub: 'cached' }, SECRET, 60, 0);
    const first = await verifyJwt(token, SECRET, 1_000);
    expect(await verifyJwt(token, SECRET, 2_000)).toBe(first); // the same claims, not checked again
    expect(Object.isFrozen(first)).toBe(true);
    expect(await reason(() => verifyJwt(token, `${SECRET}x`, 2_000))).toBe('signature');
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(await reason(() => verifyJwt(`${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`, SECRET, 2_000))).toBe('signature');
    expect(await reason(() => verifyJwt(token, SECRET, 59_999))).toBe('accepted');
    expect(await reason(() => verifyJwt(token, SECRET, 60_000))).toBe('expired');
  });

  test('verifyJwt — refuses any algorithm but HS256, none included', async () => {
    const payload = b64({ sub: 'a', exp: 4_000_000_000, iat: 1 });
    expect(await reason(() => verifyJwt(`${b64({ alg: 'none' })}.${payload}.`, SECRET))).toBe('algorithm');
    expect(await reason(() => verifyJwt(`${b64({ alg: 'HS384' })}.${payload}.x`, SECRET))).toBe('algorithm');
    expect(await reason(() => verifyJwt(`${b64({ typ: 'JWT' })}.${payload}.x`, SECRET))).toBe('algorithm');
  });

  test('verifyJwt — refuses another secret, a changed payload, a changed or cut signature', async () => {
    const token = await signJwt({ sub: 'a' }, SECRET, 60);
    const [h, p, s] = token.split('.') as [string, string, string];
    expect(await reason(() => verifyJwt(token, `${SECRET}x`))).toBe('signature');
    expect(await reason(() => verifyJwt(`${h}.${b64({ sub: 'admin', exp: 4_000_000_000, iat: 1 })}.${s}`, SECRET))).toBe('signature');
    expect(await reason(() => verifyJwt(`${h}.${p}.${s.slice(0, -2)}`, SECRET))).toBe('signature');
    expect(await reason(() => verifyJwt(`${h}.${p}.${s.startsWith('A') ? 'B' : 'A'}${s.slice(1)}`, SECRET))).toBe('signature');
  });

  test('verifyJwt — refuses what is not a JWT at all', async () => {
    for (const token of ['', 'abc', 'a.b', 'a.b.c.d', 'a b.c.d', `${b64({ alg: 'HS256' })}.!!.x`, `not-json.${b64({})}.x`]) {
      expect({ token, reason: await reason(() => verifyJwt(token, SECRET)) }).toEqual({ token, reason: 'malformed' });
    }
  });

  test('verifyJwt — refuses a signed payload without a numeric exp, or that is not an object', async () => {
    const sign = (payload: string) => {
      const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${payload}`;
      return `${body}.${createHmac('sha256', SECRET).update(body).digest('base64url')}`;
    };
    expect(await reason(() => verifyJwt(sign(b64({ sub: 'a' })), SECRET))).toBe('malformed');
    expect(await reason(() => verifyJwt(sign(b64({ sub: 'a', exp: '4000000000' })), SECRET))).toBe('malformed');
    expect(await reason(() => verifyJwt(sign(b64(42)), SECRET))).toBe('malformed');
    expect(await reason(() => verifyJwt(sign(Buffer.from('{not json').toString('base64url')), SECRET))).toBe('malformed');
  });
});
