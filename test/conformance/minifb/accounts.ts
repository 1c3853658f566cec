/**
 * minifb accounts and tokens (shared/specs/minifb.md: "Models and limits", "Auth", "Accounts").
 */
import { createHmac } from 'node:crypto';
import { checksOf, dateTime, expectAnswer, expectEqual, expectExactly, expectThat, type Answer } from '../kit.ts';
import { emoji, keysOf, MISSING_TOKEN, PASSWORD, USER_KEYS, type MinifbContext } from './context.ts';

const check = checksOf<MinifbContext>('accounts');
const tokenCheck = checksOf<MinifbContext>('tokens');
const LIMITS = ['limits'];
const INPUT = ['input'];

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
/** An HS256 JWT signed with `secret` (one the server does not know). */
const signed = (payload: object, secret: string) => {
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(payload)}`;
  return `${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`;
};
const inOneHour = () => Math.floor(Date.now() / 1000) + 3600;

/** The server's clock and the kit's agree within a second (the kit checks createdAt against its own). */
function createdJustNow(answer: Answer, before: number) {
  const at = Date.parse(answer.body.createdAt);
  expectThat(at >= before - 1000 && at <= Date.now() + 1000, `createdAt ${answer.body.createdAt} is not the time of the request`, answer);
}

const signUp = (ctx: MinifbContext, body: unknown) => ctx.call('POST', '/signup', { body });
const valid = (ctx: MinifbContext, over: Record<string, unknown> = {}) => ({ id: ctx.id(), pw: PASSWORD, name: 'Kim', ...over });

/** Field, values at the edges that pass, values past them, and the hint. */
const SIGN_UP_LIMITS: [field: string, ok: unknown[], bad: unknown[], hint: string][] = [
  ['id', [4, 50], ['a'.repeat(3), 'a'.repeat(51), ''], 'id: must be 4 to 50 characters'],
  ['pw', ['p'.repeat(10), 'p'.repeat(100), emoji(10)], ['p'.repeat(9), 'p'.repeat(101), emoji(9), emoji(101)], 'pw: must be 10 to 100 characters'],
  ['name', ['ab', 'n'.repeat(16), '가나', emoji(16)], ['a', 'n'.repeat(17), '', emoji(17), '가'.repeat(17)], 'name: must be 2 to 16 characters'],
  ['nickname', ['x', 'k'.repeat(30), null], ['', 'k'.repeat(31), emoji(31)], 'nickname: must be 1 to 30 characters'],
  ['bio', ['x', 'b'.repeat(85), null, emoji(85)], ['', 'b'.repeat(86), emoji(86)], 'bio: must be 1 to 85 characters'],
];

export const accountChecks = [
  check('check id — a free id is 200 {}, a taken one 409 naming it', async (ctx) => {
    const id = ctx.id();
    expectExactly(await ctx.call('GET', `/check/id/${id}`), 200, {});
    expectAnswer(await signUp(ctx, { id, pw: PASSWORD, name: 'Taken' }), 201);
    expectExactly(await ctx.call('GET', `/check/id/${id}`), 409, { result: 'Conflict', hint: `id: '${id}' is taken` });
  }),

  check('check id — 4 and 50 characters pass, 3 and 51 are 400 naming the limit', async (ctx) => {
    for (const length of [4, 50]) expectAnswer(await ctx.call('GET', `/check/id/${ctx.idOfLength(length)}`), 200);
    for (const id of ['a'.repeat(3), 'a'.repeat(51)]) {
      expectExactly(await ctx.call('GET', `/check/id/${id}`), 400, { result: 'Bad Request', hint: 'id: must be 4 to 50 characters' });
    }
  }, LIMITS),

  check('check id — letters, digits, _, - and . only', async (ctx) => {
    expectAnswer(await ctx.call('GET', `/check/id/a_b-c.d${ctx.tag}`), 200);
    for (const id of ['ab%20cd', 'abc!', encodeURIComponent('한글아이디'), 'a%2Fbcd']) {
      expectAnswer(await ctx.call('GET', `/check/id/${id}`), 400, { hint: 'id: may hold only letters, digits, _, - and .' });
    }
  }, INPUT),

  check('check id — a segment that is not valid percent-encoding, or holds a NUL, is 400', async (ctx) => {
    expectAnswer(await ctx.call('GET', '/check/id/abc%ZZ'), 400, { hint: 'id: is not valid percent-encoding' });
    expectAnswer(await ctx.call('GET', '/check/id/abc%00d'), 400, { hint: 'id: must not contain the NUL character (U+0000)' });
  }, INPUT),

  check('sign-up — 201 with the user: id, name, nickname, bio, createdAt, and never a password', async (ctx) => {
    const id = ctx.id();
    const before = Date.now();
    const res = expectAnswer(await signUp(ctx, { id, pw: PASSWORD, name: '박규경', nickname: 'gyu', bio: '안녕하세요' }), 201);
    expectEqual(res.body, { id, name: '박규경', nickname: 'gyu', bio: '안녕하세요', createdAt: dateTime }, 'the user', res);
    createdJustNow(res, before);
    expectThat(!res.text.includes(PASSWORD) && !res.text.includes('pbkdf2'), 'the answer shows the password or its hash', res);
  }),

  check('sign-up — nickname and bio are optional, and null when left out or null', async (ctx) => {
    expectAnswer(await signUp(ctx, valid(ctx)), 201, { nickname: null, bio: null });
    expectAnswer(await signUp(ctx, valid(ctx, { nickname: null, bio: null })), 201, { nickname: null, bio: null });
  }),

  check('sign-up — 409 for a taken id, and the first account stays as it was', async (ctx) => {
    const id = ctx.id();
    expectAnswer(await signUp(ctx, valid(ctx, { id, name: 'First' })), 201);
    expectAnswer(await signUp(ctx, valid(ctx, { id, name: 'Second' })), 409, { result: 'Conflict' });
    const { accessToken } = await ctx.login(id);
    expectAnswer(await ctx.call('GET', '/me', { token: accessToken }), 200, { name: 'First' });
  }),

  check('sign-up — ten at once for one id: one 201, nine 409', async (ctx) => {
    const id = ctx.id();
    const answers = await Promise.all(Array.from({ length: 10 }, () => signUp(ctx, valid(ctx, { id }))));
    expectEqual(answers.map((a) => a.status).sort(), [201, ...Array(9).fill(409)], 'the statuses');
  }),

  ...SIGN_UP_LIMITS.map(([field, ok, bad, hint]) =>
    check(`sign-up — ${field}: every limit at its edges (characters, not UTF-16 units)`, async (ctx) => {
      // An id that passes is a length: a new id of that length.
      for (const value of ok) expectAnswer(await signUp(ctx, valid(ctx, { [field]: field === 'id' ? ctx.idOfLength(value as number) : value })), 201);
      for (const value of bad) expectAnswer(await signUp(ctx, valid(ctx, { [field]: value })), 400, { hint });
    }, LIMITS),
  ),

  check('sign-up — an id with other characters is 400 naming them', async (ctx) => {
    for (const id of ['has space', 'semi;colon', '한글아이디', 'slash/es']) {
      expectAnswer(await signUp(ctx, valid(ctx, { id })), 400, { hint: 'id: may hold only letters, digits, _, - and .' });
    }
  }, INPUT),

  check('sign-up — a wrong type is 400 naming the field and the type', async (ctx) => {
    const cases: [Record<string, unknown>, string][] = [
      [{ id: 12345 }, 'id: must be a string'],
      [{ pw: true }, 'pw: must be a string'],
      [{ name: null }, 'name: must be a string'],
      [{ name: ['a', 'b'] }, 'name: must be a string'],
      [{ nickname: 3 }, 'nickname: must be a string or null'],
      [{ bio: {} }, 'bio: must be a string or null'],
    ];
    for (const [over, hint] of cases) expectAnswer(await signUp(ctx, valid(ctx, over)), 400, { hint });
  }, INPUT),

  check('sign-up — a missing field is 400 saying it is required', async (ctx) => {
    for (const field of ['id', 'pw', 'name']) {
      const body: Record<string, unknown> = valid(ctx);
      delete body[field];
      expectAnswer(await signUp(ctx, body), 400, { hint: `${field}: is required` });
    }
  }, INPUT),

  check('sign-up — malformed JSON, an empty body or a body that is not an object is 400', async (ctx) => {
    expectExactly(await ctx.call('POST', '/signup', { raw: '{"id": "abcd", ' }), 400, { result: 'Bad Request', hint: 'the request body is not valid JSON' });
    for (const raw of ['', '[]', '"text"', '42', 'null']) expectAnswer(await ctx.call('POST', '/signup', { raw }), 400);
  }, INPUT),

  check('log-in — 200 with an access token, a refresh token and passwordChangeRequired false', async (ctx) => {
    const person = await ctx.cast('bob');
    const res = expectAnswer(await ctx.call('POST', '/auth', { body: { id: person.id, pw: PASSWORD } }), 200);
    expectEqual(keysOf(res.body), ['accessToken', 'passwordChangeRequired', 'refreshToken'], 'the keys', res);
    expectEqual(res.body.passwordChangeRequired, false, 'passwordChangeRequired', res);
    expectThat(/^[\w-]+\.[\w-]+\.[\w-]+$/.test(res.body.accessToken), 'the access token is not a JWT', res);
    expectAnswer(await ctx.call('GET', '/me', { token: res.body.accessToken }), 200, { id: person.id });
  }),

  check('log-in — a wrong password and an unknown id are the same 401', async (ctx) => {
    const person = await ctx.cast('bob');
    const wrong = expectExactly(await ctx.call('POST', '/auth', { body: { id: person.id, pw: 'not the password' } }), 401, { result: 'Unauthorized', hint: 'id or password is wrong' });
    expectExactly(await ctx.call('POST', '/auth', { body: { id: ctx.id('nobody'), pw: PASSWORD } }), 401, wrong.body);
  }),

  check('log-in — wrong types, missing fields and malformed JSON are 400', async (ctx) => {
    expectAnswer(await ctx.call('POST', '/auth', { body: { id: 1, pw: PASSWORD } }), 400, { hint: 'id: must be a string' });
    expectAnswer(await ctx.call('POST', '/auth', { body: { id: 'abcd' } }), 400, { hint: 'pw: is required' });
    expectAnswer(await ctx.call('POST', '/auth', { raw: '{' }), 400);
  }, INPUT),

  check('refresh — a refresh token gives a new access token; an access token is not a refresh token', async (ctx) => {
    const person = await ctx.cast('carol');
    const res = expectAnswer(await ctx.call('POST', '/refresh', { token: person.refresh }), 200);
    expectEqual(keysOf(res.body), ['accessToken'], 'the keys', res);
    expectAnswer(await ctx.call('GET', '/me', { token: res.body.accessToken }), 200, { id: person.id });
    expectAnswer(await ctx.call('POST', '/refresh', { token: person.token }), 401, { hint: 'an access token is not a refresh token' });
    expectAnswer(await ctx.call('POST', '/refresh'), 401);
  }),

  check('me — 200 with the caller', async (ctx) => {
    const person = await ctx.cast('alice');
    const res = expectAnswer(await ctx.call('GET', '/me', { token: person.token }), 200);
    expectEqual(res.body, { id: person.id, name: 'Alice', nickname: 'ally', bio: null, createdAt: dateTime }, 'the user', res);
  }),

  check('user — 200 with that user, 404 for an unknown one, 401 without a token', async (ctx) => {
    const other = await ctx.account({ name: 'Other', bio: 'hello' });
    const { token } = await ctx.cast('bob');
    const res = expectAnswer(await ctx.call('GET', `/user/${other.id}`, { token }), 200, { id: other.id, name: 'Other', bio: 'hello', nickname: null });
    expectEqual(keysOf(res.body), USER_KEYS, 'the keys', res);
    const nobody = ctx.id('nobody');
    expectExactly(await ctx.call('GET', `/user/${nobody}`, { token }), 404, { result: 'Not Found', hint: `no user ${nobody}` });
    expectAnswer(await ctx.call('GET', '/user/a%ZZbc', { token }), 404);
    expectAnswer(await ctx.call('GET', '/user/ab%00cd', { token }), 400, { hint: 'id: must not contain the NUL character (U+0000)' });
    expectAnswer(await ctx.call('GET', `/user/${other.id}`), 401);
  }),

  check('password — 200 {}; the new password logs in, the old one does not, and older tokens stop working', async (ctx) => {
    const person = await ctx.person();
    expectExactly(await ctx.call('PUT', '/me/password', { token: person.token, body: { currentPw: PASSWORD, newPw: 'a brand new password' } }), 200, {});
    expectAnswer(await ctx.call('POST', '/auth', { body: { id: person.id, pw: PASSWORD } }), 401);
    expectEqual((await ctx.login(person.id, 'a brand new password')).passwordChangeRequired, false, 'passwordChangeRequired');
    const revoked = 'the token was revoked: the password has changed since it was issued';
    expectAnswer(await ctx.call('GET', '/me', { token: person.token }), 401, { hint: revoked });
    expectAnswer(await ctx.call('POST', '/refresh', { token: person.refresh }), 401, { hint: revoked });
  }),

  check('password — 403 when the current password is wrong, 409 when the new one equals it', async (ctx) => {
    const { token } = await ctx.cast('keeper');
    expectExactly(await ctx.call('PUT', '/me/password', { token, body: { currentPw: 'wrong password!', newPw: 'another password' } }), 403, {
      result: 'Forbidden',
      hint: 'currentPw: is not your current password',
    });
    expectExactly(await ctx.call('PUT', '/me/password', { token, body: { currentPw: PASSWORD, newPw: PASSWORD } }), 409, {
      result: 'Conflict',
      hint: 'newPw: must differ from the current password',
    });
    expectAnswer(await ctx.call('GET', '/me', { token }), 200);
  }),

  check('password — the new password has 10 to 100 characters', async (ctx) => {
    const person = await ctx.person();
    let { token } = person;
    let current = PASSWORD;
    for (const newPw of ['p'.repeat(9), 'p'.repeat(101)]) {
      expectAnswer(await ctx.call('PUT', '/me/password', { token, body: { currentPw: current, newPw } }), 400, { hint: 'newPw: must be 10 to 100 characters' });
    }
    for (const newPw of ['q'.repeat(10), 'r'.repeat(100)]) {
      expectAnswer(await ctx.call('PUT', '/me/password', { token, body: { currentPw: current, newPw } }), 200);
      current = newPw;
      token = (await ctx.login(person.id, current)).accessToken;
    }
  }, LIMITS),

  check('password — wrong types, missing fields and no token', async (ctx) => {
    const { token } = await ctx.cast('keeper');
    expectAnswer(await ctx.call('PUT', '/me/password', { token, body: { currentPw: 1, newPw: 'another password' } }), 400, { hint: 'currentPw: must be a string' });
    expectAnswer(await ctx.call('PUT', '/me/password', { token, body: { currentPw: PASSWORD } }), 400, { hint: 'newPw: is required' });
    expectAnswer(await ctx.call('PUT', '/me/password', { body: { currentPw: PASSWORD, newPw: 'another password' } }), 401);
  }, INPUT),

  ...(['nickname', 'bio'] as const).flatMap((field) => {
    const max = field === 'nickname' ? 30 : 85;
    return [
      check(`${field} — set, then back to null; 200 with the user each time`, async (ctx) => {
        const { token } = await ctx.cast('editor');
        const set = expectAnswer(await ctx.call('PUT', `/me/${field}`, { token, body: { [field]: '새 값' } }), 200, { [field]: '새 값' });
        expectEqual(keysOf(set.body), USER_KEYS, 'the keys', set);
        expectAnswer(await ctx.call('GET', '/me', { token }), 200, { [field]: '새 값' });
        expectAnswer(await ctx.call('PUT', `/me/${field}`, { token, body: { [field]: null } }), 200, { [field]: null });
      }),
      check(`${field} — 1 and ${max} characters pass, 0 and ${max + 1} are 400`, async (ctx) => {
        const { token } = await ctx.cast('editor');
        for (const value of ['x', 'y'.repeat(max), emoji(max)]) expectAnswer(await ctx.call('PUT', `/me/${field}`, { token, body: { [field]: value } }), 200);
        for (const value of ['', 'y'.repeat(max + 1), emoji(max + 1)]) {
          expectAnswer(await ctx.call('PUT', `/me/${field}`, { token, body: { [field]: value } }), 400, { hint: `${field}: must be 1 to ${max} characters` });
        }
      }, LIMITS),
      check(`${field} — a missing field, a wrong type, malformed JSON and no token`, async (ctx) => {
        const { token } = await ctx.cast('editor');
        expectAnswer(await ctx.call('PUT', `/me/${field}`, { token, body: {} }), 400, { hint: `${field}: is required` });
        for (const value of [5, true, ['x']]) expectAnswer(await ctx.call('PUT', `/me/${field}`, { token, body: { [field]: value } }), 400, { hint: `${field}: must be a string or null` });
        expectAnswer(await ctx.call('PUT', `/me/${field}`, { token, raw: '{"x"' }), 400);
        expectAnswer(await ctx.call('PUT', `/me/${field}`, { body: { [field]: 'x' } }), 401);
      }, INPUT),
    ];
  }),
];

/** `GET /me` with these headers is refused with this hint. */
async function refused(ctx: MinifbContext, headers: Record<string, string>, hint: string) {
  expectExactly(await ctx.call('GET', '/me', { headers }), 401, { result: 'Unauthorized', hint });
}

export const tokenChecks = [
  tokenCheck('tokens — a missing Authorization header is 401 saying how to send one', (ctx) => refused(ctx, {}, MISSING_TOKEN)),

  tokenCheck('tokens — another scheme, or no token after Bearer, is 401', async (ctx) => {
    const { token } = await ctx.cast('bob');
    for (const authorization of [`Basic ${token}`, 'Bearer', 'Bearer ']) await refused(ctx, { authorization }, "Authorization header must be 'Bearer <token>'");
  }),

  tokenCheck('tokens — the scheme is case-insensitive', async (ctx) => {
    const { token } = await ctx.cast('bob');
    expectAnswer(await ctx.call('GET', '/me', { headers: { authorization: `bearer ${token}` } }), 200);
  }),

  tokenCheck('tokens — garbage is 401: not a JWT', (ctx) => refused(ctx, { authorization: 'Bearer not-a-token' }, 'the token is not a JWT')),

  tokenCheck('tokens — alg none (or any other than HS256) is refused before any signature is looked at', async (ctx) => {
    const { id } = await ctx.cast('bob');
    const payload = b64({ sub: id, typ: 'access', ver: 0, iat: 1, exp: inOneHour() });
    await refused(ctx, { authorization: `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${payload}.` }, 'the token is not signed with HS256');
    await refused(ctx, { authorization: `Bearer ${b64({ alg: 'HS512', typ: 'JWT' })}.${payload}.abc` }, 'the token is not signed with HS256');
  }),

  tokenCheck('tokens — a token signed with another secret is 401', async (ctx) => {
    const { id } = await ctx.cast('bob');
    const forged = signed({ sub: id, typ: 'access', ver: 0, iat: Math.floor(Date.now() / 1000), exp: inOneHour() }, `not-the-secret-${ctx.tag}-0123456789abcdef`);
    await refused(ctx, { authorization: `Bearer ${forged}` }, 'the token signature is not valid');
  }),

  tokenCheck('tokens — a token whose payload was changed is 401', async (ctx) => {
    const [me, other] = [await ctx.cast('bob'), await ctx.cast('carol')];
    const [header, , signature] = me.token.split('.');
    const tampered = `${header}.${b64({ sub: other.id, typ: 'access', ver: 0, iat: 1, exp: inOneHour() })}.${signature}`;
    await refused(ctx, { authorization: `Bearer ${tampered}` }, 'the token signature is not valid');
  }),

  tokenCheck('tokens — a refresh token is not an access token', async (ctx) => {
    const { refresh } = await ctx.cast('bob');
    await refused(ctx, { authorization: `Bearer ${refresh}` }, 'a refresh token is not an access token');
  }),
];
