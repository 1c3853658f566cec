import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { signJwt } from '../platform/jwt.ts';
import { ADMIN, PASSWORD, startMinifb, type Backend, type Minifb } from './support/minifb.ts';

/**
 * minifb accounts as a client sees them (shared/specs/minifb.md: "Models and limits", "Auth",
 * "Accounts", "Errors"), on embedded PGlite and on Postgres.
 */
const SECRET = 'test-secret-0123456789-0123456789-abcdef';
const USER_KEYS = ['bio', 'createdAt', 'id', 'name', 'nickname'];
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const emoji = (n: number) => '😀'.repeat(n);

describe.each(['pglite', 'pg', 'split'] as Backend[])('minifb accounts on %s', (backend) => {
  let fb: Minifb;
  let n = 0;
  /** A fresh, valid user id for each test that needs one. */
  const fresh = (prefix = 'user') => `${prefix}${backend}${++n}`;

  beforeAll(async () => {
    fb = await startMinifb({ backend, env: { JWT_SECRET: SECRET } });
  }, 90000);

  afterAll(async () => {
    await fb?.stop();
  }, 30000);

  const signUp = (body: unknown) => fb.call('POST', '/signup', { body });
  const valid = (over: Record<string, unknown> = {}) => ({ id: fresh(), pw: PASSWORD, name: 'Kim', ...over });

  describe('GET /check/id/{id}', () => {
    test('check id — a free id is 200 {}, a taken one 409', async () => {
      const id = fresh();
      expect(await fb.call('GET', `/check/id/${id}`)).toMatchObject({ status: 200, body: {} });
      await fb.user(id);
      const taken = await fb.call('GET', `/check/id/${id}`);
      expect(taken.status).toBe(409);
      expect(taken.body).toEqual({ result: 'Conflict', hint: `id: '${id}' is taken` });
    });

    test('check id — 4 and 50 characters pass, 3 and 51 are 400 naming the limit', async () => {
      expect((await fb.call('GET', `/check/id/${'a'.repeat(4)}`)).status).toBe(200);
      expect((await fb.call('GET', `/check/id/${'a'.repeat(50)}`)).status).toBe(200);
      for (const id of ['a'.repeat(3), 'a'.repeat(51)]) {
        expect(await fb.call('GET', `/check/id/${id}`)).toMatchObject({ status: 400, body: { result: 'Bad Request', hint: 'id: must be 4 to 50 characters' } });
      }
    });

    test('check id — letters, digits, _, - and . only', async () => {
      expect((await fb.call('GET', '/check/id/a_b-c.d')).status).toBe(200);
      for (const id of ['ab%20cd', 'abc!', encodeURIComponent('한글아이디'), 'a%2Fbcd']) {
        expect(await fb.call('GET', `/check/id/${id}`)).toMatchObject({ status: 400, body: { hint: 'id: may hold only letters, digits, _, - and .' } });
      }
    });

    test('check id — a segment that is not valid percent-encoding is 400', async () => {
      expect(await fb.call('GET', '/check/id/abc%ZZ')).toMatchObject({ status: 400, body: { hint: 'id: is not valid percent-encoding' } });
      expect(await fb.call('GET', '/check/id/abc%00d')).toMatchObject({ status: 400, body: { hint: 'id: must not contain the NUL character (U+0000)' } });
    });
  });

  describe('POST /signup', () => {
    test('sign-up — 201 with the user: id, name, nickname, bio, createdAt, and never a password', async () => {
      const id = fresh();
      const before = Date.now();
      const res = await signUp({ id, pw: PASSWORD, name: '박규경', nickname: 'gyu', bio: '안녕하세요' });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body).sort()).toEqual(USER_KEYS);
      expect(res.body).toMatchObject({ id, name: '박규경', nickname: 'gyu', bio: '안녕하세요' });
      expect(Date.parse(res.body.createdAt)).toBeGreaterThanOrEqual(before - 1000);
      expect(res.text).not.toContain(PASSWORD);
      expect(res.text).not.toContain('pbkdf2');
    });

    test('sign-up — nickname and bio are optional, and null when left out or null', async () => {
      expect((await signUp(valid())).body).toMatchObject({ nickname: null, bio: null });
      expect((await signUp(valid({ nickname: null, bio: null }))).body).toMatchObject({ nickname: null, bio: null });
    });

    test('sign-up — 409 for a taken id, and the first account stays as it was', async () => {
      const id = fresh();
      await signUp(valid({ id, name: 'First' }));
      const again = await signUp(valid({ id, name: 'Second' }));
      expect(again).toMatchObject({ status: 409, body: { result: 'Conflict' } });
      const token = (await fb.login(id)).accessToken;
      expect((await fb.call('GET', '/me', { token })).body.name).toBe('First');
    });

    test('sign-up — ten at once for one id: one 201, nine 409', async () => {
      const id = fresh();
      const answers = await Promise.all(Array.from({ length: 10 }, () => signUp(valid({ id }))));
      expect(answers.map((a) => a.status).sort()).toEqual([201, ...Array(9).fill(409)]);
    });

    const limits: [field: string, ok: unknown[], bad: unknown[], hint: string][] = [
      ['id', ['a'.repeat(4), 'b'.repeat(50)], ['a'.repeat(3), 'a'.repeat(51), ''], 'id: must be 4 to 50 characters'],
      ['pw', ['p'.repeat(10), 'p'.repeat(100), emoji(10)], ['p'.repeat(9), 'p'.repeat(101), emoji(9), emoji(101)], 'pw: must be 10 to 100 characters'],
      ['name', ['ab', 'n'.repeat(16), '가나', emoji(16)], ['a', 'n'.repeat(17), '', emoji(17), '가'.repeat(17)], 'name: must be 2 to 16 characters'],
      ['nickname', ['x', 'k'.repeat(30), null], ['', 'k'.repeat(31), emoji(31)], 'nickname: must be 1 to 30 characters'],
      ['bio', ['x', 'b'.repeat(85), null, emoji(85)], ['', 'b'.repeat(86), emoji(86)], 'bio: must be 1 to 85 characters'],
    ];
    for (const [field, ok, bad, hint] of limits) {
      test(`sign-up — ${field}: every limit at its edges (characters, not UTF-16 units)`, async () => {
        for (const value of ok) {
          // Ids must be unique: keep the length, change the last characters.
          const unique = field === 'id' ? `${value}`.slice(0, -4) + `${++n}`.padStart(4, '0').slice(-4) : value;
          const res = await signUp(valid({ [field]: unique }));
          expect({ field, value, status: res.status, hint: res.body.hint }).toEqual({ field, value, status: 201, hint: undefined });
        }
        for (const value of bad) {
          // Whether the schema or the exact count catches it, the hint is the same.
          const res = await signUp(valid({ [field]: value }));
          expect({ field, value, status: res.status, hint: res.body.hint }).toEqual({ field, value, status: 400, hint });
        }
      });
    }

    test('sign-up — an id with other characters is 400 naming them', async () => {
      for (const id of ['has space', 'semi;colon', '한글아이디', 'slash/es']) {
        expect(await signUp(valid({ id }))).toMatchObject({ status: 400, body: { hint: 'id: may hold only letters, digits, _, - and .' } });
      }
    });

    test('sign-up — a wrong type is 400 naming the field and the type', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ id: 12345 }, 'id: must be a string'],
        [{ pw: true }, 'pw: must be a string'],
        [{ name: null }, 'name: must be a string'],
        [{ name: ['a', 'b'] }, 'name: must be a string'],
      ];
      for (const [over, hint] of cases) expect(await signUp(valid(over))).toMatchObject({ status: 400, body: { hint } });
      expect(await signUp(valid({ nickname: 3 }))).toMatchObject({ status: 400, body: { hint: 'nickname: must be a string or null' } });
      expect(await signUp(valid({ bio: {} }))).toMatchObject({ status: 400, body: { hint: 'bio: must be a string or null' } });
    });

    test('sign-up — a missing field is 400 saying it is required', async () => {
      for (const field of ['id', 'pw', 'name']) {
        const body: Record<string, unknown> = valid();
        delete body[field];
        expect(await signUp(body)).toMatchObject({ status: 400, body: { hint: `${field}: is required` } });
      }
    });

    test('sign-up — malformed JSON, an empty body or a body that is not an object is 400', async () => {
      expect(await fb.call('POST', '/signup', { raw: '{"id": "abcd", ' })).toMatchObject({ status: 400, body: { result: 'Bad Request', hint: 'the request body is not valid JSON' } });
      expect((await fb.call('POST', '/signup', { raw: '' })).status).toBe(400);
      for (const raw of ['[]', '"text"', '42', 'null']) expect({ raw, status: (await fb.call('POST', '/signup', { raw })).status }).toEqual({ raw, status: 400 });
    });
  });

  describe('POST /auth and POST /refresh', () => {
    test('log-in — 200 with an access token, a refresh token and passwordChangeRequired false', async () => {
      const id = fresh();
      await fb.user(id);
      const res = await fb.call('POST', '/auth', { body: { id, pw: PASSWORD } });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['accessToken', 'passwordChangeRequired', 'refreshToken']);
      expect(res.body.passwordChangeRequired).toBe(false);
      expect(res.body.accessToken).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect((await fb.call('GET', '/me', { token: res.body.accessToken })).body.id).toBe(id);
    });

    test('log-in — a wrong password and an unknown id are the same 401', async () => {
      const id = fresh();
      await fb.user(id);
      const wrong = await fb.call('POST', '/auth', { body: { id, pw: 'not the password' } });
      const unknown = await fb.call('POST', '/auth', { body: { id: fresh('nobody'), pw: PASSWORD } });
      expect(wrong).toMatchObject({ status: 401, body: { result: 'Unauthorized', hint: 'id or password is wrong' } });
      expect(unknown.body).toEqual(wrong.body);
    });

    test('log-in — wrong types, missing fields and malformed JSON are 400', async () => {
      expect(await fb.call('POST', '/auth', { body: { id: 1, pw: PASSWORD } })).toMatchObject({ status: 400, body: { hint: 'id: must be a string' } });
      expect(await fb.call('POST', '/auth', { body: { id: 'abcd' } })).toMatchObject({ status: 400, body: { hint: 'pw: is required' } });
      expect((await fb.call('POST', '/auth', { raw: '{' })).status).toBe(400);
    });

    test('refresh — a refresh token gives a new access token; an access token is not a refresh token', async () => {
      const id = fresh();
      await fb.user(id);
      const { accessToken, refreshToken } = await fb.login(id);
      const res = await fb.call('POST', '/refresh', { token: refreshToken });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body)).toEqual(['accessToken']);
      expect((await fb.call('GET', '/me', { token: res.body.accessToken })).body.id).toBe(id);
      expect(await fb.call('POST', '/refresh', { token: accessToken })).toMatchObject({ status: 401, body: { hint: 'an access token is not a refresh token' } });
      expect((await fb.call('POST', '/refresh')).status).toBe(401);
    });
  });

  describe('tokens', () => {
    let id: string;
    let token: string;
    let refresh: string;

    beforeAll(async () => {
      id = fresh('tok');
      await fb.user(id);
      ({ accessToken: token, refreshToken: refresh } = await fb.login(id));
    });

    const me = (headers: Record<string, string>) => fb.call('GET', '/me', { headers });
    const refused = async (headers: Record<string, string>, hint: string | RegExp) => {
      const res = await me(headers);
      expect(res.status).toBe(401);
      expect(res.body.result).toBe('Unauthorized');
      if (typeof hint === 'string') expect(res.body.hint).toBe(hint);
      else expect(res.body.hint).toMatch(hint);
    };

    test('tokens — a missing Authorization header is 401 saying how to send one', () =>
      refused({}, "Authorization header is missing: send 'Authorization: Bearer <accessToken>'"));

    test('tokens — another scheme, or no token after Bearer, is 401', async () => {
      await refused({ authorization: `Basic ${token}` }, "Authorization header must be 'Bearer <token>'");
      await refused({ authorization: 'Bearer' }, "Authorization header must be 'Bearer <token>'");
      await refused({ authorization: 'Bearer ' }, "Authorization header must be 'Bearer <token>'");
    });

    test('tokens — the scheme is case-insensitive', async () => {
      expect((await me({ authorization: `bearer ${token}` })).status).toBe(200);
    });

    test('tokens — garbage is 401: not a JWT', () => refused({ authorization: 'Bearer not-a-token' }, 'the token is not a JWT'));

    test('tokens — alg none is refused before any signature is looked at', async () => {
      const payload = b64({ sub: id, typ: 'access', ver: 0, iat: 1, exp: 4_000_000_000 });
      await refused({ authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${payload}.` }, 'the token is not signed with HS256');
      await refused({ authorization: `Bearer ${b64({ alg: 'HS512', typ: 'JWT' })}.${payload}.abc` }, 'the token is not signed with HS256');
    });

    test('tokens — a token signed with another secret is 401', async () => {
      const forged = signJwt({ sub: id, typ: 'access', ver: 0 }, 'another-secret-0123456789-0123456789', 600);
      await refused({ authorization: `Bearer ${forged}` }, 'the token signature is not valid');
    });

    test('tokens — a token whose payload was changed is 401', async () => {
      const [header, , signature] = token.split('.');
      const tampered = `${header}.${b64({ sub: ADMIN.id, typ: 'access', ver: 0, iat: 1, exp: 4_000_000_000 })}.${signature}`;
      await refused({ authorization: `Bearer ${tampered}` }, 'the token signature is not valid');
    });

    test('tokens — an expired token is 401', async () => {
      const expired = signJwt({ sub: id, typ: 'access', ver: 0 }, SECRET, 60, Date.now() - 3_600_000);
      await refused({ authorization: `Bearer ${expired}` }, 'the token has expired');
      const expiredRefresh = signJwt({ sub: id, typ: 'refresh', ver: 0 }, SECRET, 60, Date.now() - 3_600_000);
      expect(await fb.call('POST', '/refresh', { token: expiredRefresh })).toMatchObject({ status: 401, body: { hint: 'the token has expired' } });
    });

    test('tokens — a refresh token is not an access token', () => refused({ authorization: `Bearer ${refresh}` }, 'a refresh token is not an access token'));

    test('tokens — a well-signed token of a user who does not exist is 401', async () => {
      const ghost = signJwt({ sub: 'ghost-user', typ: 'access', ver: 0 }, SECRET, 600);
      await refused({ authorization: `Bearer ${ghost}` }, 'the token belongs to no user');
    });
  });

  describe('GET /me and GET /user/{id}', () => {
    test('me — 200 with the caller', async () => {
      const id = fresh();
      const token = await fb.user(id, { name: 'Me Myself', nickname: 'me' });
      const res = await fb.call('GET', '/me', { token });
      expect(res.status).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(USER_KEYS);
      expect(res.body).toMatchObject({ id, name: 'Me Myself', nickname: 'me', bio: null });
    });

    test('user — 200 with that user, 404 for an unknown one, 401 without a token', async () => {
      const id = fresh();
      await fb.user(id, { name: 'Other', bio: 'hello' });
      const token = await fb.user(fresh());
      expect((await fb.call('GET', `/user/${id}`, { token })).body).toMatchObject({ id, name: 'Other', bio: 'hello', nickname: null });
      expect(await fb.call('GET', '/user/nobody-here', { token })).toMatchObject({ status: 404, body: { result: 'Not Found', hint: 'no user nobody-here' } });
      expect((await fb.call('GET', '/user/a%ZZbc', { token })).status).toBe(404);
      // A NUL is text no id can hold: 400 naming the parameter (it was a 500: Postgres text cannot hold it).
      expect(await fb.call('GET', '/user/ab%00cd', { token })).toMatchObject({ status: 400, body: { result: 'Bad Request', hint: 'id: must not contain the NUL character (U+0000)' } });
      expect((await fb.call('GET', `/user/${id}`)).status).toBe(401);
    });
  });

  describe('PUT /me/password', () => {
    test('password — 200 {}; the new password logs in, the old one does not, and older tokens stop working', async () => {
      const id = fresh();
      const token = await fb.user(id);
      const { refreshToken } = await fb.login(id);
      const res = await fb.call('PUT', '/me/password', { token, body: { currentPw: PASSWORD, newPw: 'a brand new password' } });
      expect(res).toMatchObject({ status: 200, body: {} });
      expect((await fb.call('POST', '/auth', { body: { id, pw: PASSWORD } })).status).toBe(401);
      expect((await fb.login(id, 'a brand new password')).passwordChangeRequired).toBe(false);
      const revoked = 'the token was revoked: the password has changed since it was issued';
      expect(await fb.call('GET', '/me', { token })).toMatchObject({ status: 401, body: { hint: revoked } });
      expect(await fb.call('POST', '/refresh', { token: refreshToken })).toMatchObject({ status: 401, body: { hint: revoked } });
    });

    test('password — 403 when the current password is wrong, 409 when the new one equals it', async () => {
      const token = await fb.user(fresh());
      expect(await fb.call('PUT', '/me/password', { token, body: { currentPw: 'wrong password!', newPw: 'another password' } })).toMatchObject({
        status: 403,
        body: { result: 'Forbidden', hint: 'currentPw: is not your current password' },
      });
      expect(await fb.call('PUT', '/me/password', { token, body: { currentPw: PASSWORD, newPw: PASSWORD } })).toMatchObject({
        status: 409,
        body: { result: 'Conflict', hint: 'newPw: must differ from the current password' },
      });
      expect((await fb.call('GET', '/me', { token })).status).toBe(200);
    });

    test('password — the new password has 10 to 100 characters', async () => {
      const id = fresh();
      let token = await fb.user(id);
      let current = PASSWORD;
      for (const newPw of ['p'.repeat(9), 'p'.repeat(101)]) {
        expect(await fb.call('PUT', '/me/password', { token, body: { currentPw: current, newPw } })).toMatchObject({ status: 400, body: { hint: 'newPw: must be 10 to 100 characters' } });
      }
      for (const newPw of ['q'.repeat(10), 'r'.repeat(100)]) {
        expect((await fb.call('PUT', '/me/password', { token, body: { currentPw: current, newPw } })).status).toBe(200);
        current = newPw;
        token = (await fb.login(id, current)).accessToken;
      }
    });

    test('password — wrong types, missing fields and no token', async () => {
      const token = await fb.user(fresh());
      expect(await fb.call('PUT', '/me/password', { token, body: { currentPw: 1, newPw: 'another password' } })).toMatchObject({ status: 400, body: { hint: 'currentPw: must be a string' } });
      expect(await fb.call('PUT', '/me/password', { token, body: { currentPw: PASSWORD } })).toMatchObject({ status: 400, body: { hint: 'newPw: is required' } });
      expect((await fb.call('PUT', '/me/password', { body: { currentPw: PASSWORD, newPw: 'another password' } })).status).toBe(401);
    });
  });

  describe('PUT /me/nickname and PUT /me/bio', () => {
    for (const [field, max] of [['nickname', 30], ['bio', 85]] as const) {
      test(`${field} — set, then back to null; 200 with the user each time`, async () => {
        const token = await fb.user(fresh());
        const set = await fb.call('PUT', `/me/${field}`, { token, body: { [field]: '새 값' } });
        expect(set.status).toBe(200);
        expect(Object.keys(set.body).sort()).toEqual(USER_KEYS);
        expect(set.body[field]).toBe('새 값');
        expect((await fb.call('GET', '/me', { token })).body[field]).toBe('새 값');
        const cleared = await fb.call('PUT', `/me/${field}`, { token, body: { [field]: null } });
        expect(cleared).toMatchObject({ status: 200, body: { [field]: null } });
      });

      test(`${field} — 1 and ${max} characters pass, 0 and ${max + 1} are 400`, async () => {
        const token = await fb.user(fresh());
        for (const value of ['x', 'y'.repeat(max), emoji(max)]) expect((await fb.call('PUT', `/me/${field}`, { token, body: { [field]: value } })).status).toBe(200);
        for (const value of ['', 'y'.repeat(max + 1), emoji(max + 1)]) {
          const res = await fb.call('PUT', `/me/${field}`, { token, body: { [field]: value } });
          expect(res.status).toBe(400);
          expect(res.body.hint).toBe(`${field}: must be 1 to ${max} characters`);
        }
      });

      test(`${field} — a missing field, a wrong type, malformed JSON and no token`, async () => {
        const token = await fb.user(fresh());
        expect(await fb.call('PUT', `/me/${field}`, { token, body: {} })).toMatchObject({ status: 400, body: { hint: `${field}: is required` } });
        for (const value of [5, true, ['x']]) {
          expect(await fb.call('PUT', `/me/${field}`, { token, body: { [field]: value } })).toMatchObject({ status: 400, body: { hint: `${field}: must be a string or null` } });
        }
        expect((await fb.call('PUT', `/me/${field}`, { token, raw: '{"x"' })).status).toBe(400);
        expect((await fb.call('PUT', `/me/${field}`, { body: { [field]: 'x' } })).status).toBe(401);
      });
    }
  });

  describe('POST /user/{id}/temporary-password', () => {
    test('temporary password — an administrator gets one, once; the user logs in with it and must change it', async () => {
      const id = fresh();
      const userToken = await fb.user(id);
      const admin = (await fb.login(ADMIN.id, ADMIN.pw)).accessToken;
      const res = await fb.call('POST', `/user/${id}/temporary-password`, { token: admin });
      expect(res.status).toBe(201);
      expect(Object.keys(res.body)).toEqual(['temporaryPassword']);
      const temporary: string = res.body.temporaryPassword;
      expect(temporary.length).toBeGreaterThanOrEqual(10);
      // It replaces the old password and revokes the user's tokens.
      expect((await fb.call('POST', '/auth', { body: { id, pw: PASSWORD } })).status).toBe(401);
      expect((await fb.call('GET', '/me', { token: userToken })).status).toBe(401);
      const login = await fb.login(id, temporary);
      expect(login.passwordChangeRequired).toBe(true);
      expect((await fb.call('PUT', '/me/password', { token: login.accessToken, body: { currentPw: temporary, newPw: 'my own password' } })).status).toBe(200);
      expect((await fb.login(id, 'my own password')).passwordChangeRequired).toBe(false);
      expect((await fb.call('POST', '/auth', { body: { id, pw: temporary } })).status).toBe(401);
    });

    test('temporary password — 403 for a user who is not an administrator, 401 without a token, 404 for an unknown user', async () => {
      const id = fresh();
      const token = await fb.user(id);
      expect(await fb.call('POST', `/user/${id}/temporary-password`, { token })).toMatchObject({ status: 403, body: { result: 'Forbidden', hint: 'only an administrator may do this' } });
      expect((await fb.call('POST', `/user/${id}/temporary-password`)).status).toBe(401);
      const admin = (await fb.login(ADMIN.id, ADMIN.pw)).accessToken;
      expect(await fb.call('POST', '/user/nobody-at-all/temporary-password', { token: admin })).toMatchObject({ status: 404, body: { hint: 'no user nobody-at-all' } });
      // A NUL is text no id can hold: 400 naming the parameter (it was a 500: Postgres text cannot hold it).
      expect(await fb.call('POST', '/user/ab%00cd/temporary-password', { token: admin })).toMatchObject({ status: 400, body: { result: 'Bad Request', hint: 'id: must not contain the NUL character (U+0000)' } });
      // The user's password is untouched by the refused requests.
      expect((await fb.login(id)).passwordChangeRequired).toBe(false);
    });
  });

  describe('errors', () => {
    test('an unknown route is 404 {result, hint}', async () => {
      expect(await fb.call('GET', '/no/such/thing')).toMatchObject({ status: 404, body: { result: 'Not Found', hint: 'no route for GET /no/such/thing' } });
    });

    test('a wrong method on a known path is 405 {result, hint} with Allow', async () => {
      const res = await fb.call('DELETE', '/signup');
      expect(res).toMatchObject({ status: 405, body: { result: 'Method Not Allowed', hint: 'DELETE is not allowed on /signup (allowed: POST)' } });
      expect(res.headers.get('allow')).toBe('POST');
      expect((await fb.call('POST', '/me')).headers.get('allow')).toBe('GET');
    });

    test('every answer in these tests matches the schema the OpenAPI document declares for its route and status', async () => {
      expect(fb.seen.length).toBeGreaterThan(50);
      expect(await fb.openapiProblems()).toEqual([]);
    });

    test('no answer in these tests was a 5xx or lacked the {result, hint} envelope on an error', () => {
      expect(fb.seen.length).toBeGreaterThan(100);
      for (const r of fb.seen) {
        expect({ at: `${r.method} ${r.path}`, status: r.status < 500 }).toEqual({ at: `${r.method} ${r.path}`, status: true });
        if (r.status >= 400) expect(Object.keys(r.body as object).sort()).toEqual(['hint', 'result']);
      }
    });
  });
});
