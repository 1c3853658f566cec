import { Elysia } from 'elysia';
import { Type } from '@sinclair/typebox';
import { bearerAuth, bearerToken } from '../../platform/bearer-auth.ts';
import type { Clock } from '../../platform/clock.ts';
import { ErrorBody, pathText } from '../../platform/http-schemas.ts';
import { lengthHint, textField } from '../../platform/text.ts';
import type { AccountUseCases } from './use-cases.ts';

const User = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    nickname: Type.Union([Type.String(), Type.Null()]),
    bio: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { description: 'A user: never a password hash' },
);
const Empty = Type.Object({}, { additionalProperties: false });
const nullableText = (min: number, max: number, what: string) =>
  Type.Union([textField(min, max, { description: what }), Type.Null()], { error: lengthHint(min, max) });

const SignUp = Type.Object({
  id: textField(4, 50, { description: 'Letters, digits, _, - and .' }),
  pw: textField(10, 100, { description: 'Password' }),
  name: textField(2, 16, { description: 'Name' }),
  nickname: Type.Optional(nullableText(1, 30, 'Nickname')),
  bio: Type.Optional(nullableText(1, 85, 'Bio')),
});
const Credentials = Type.Object({ id: Type.String(), pw: Type.String() });
const Tokens = Type.Object({ accessToken: Type.String(), refreshToken: Type.String(), passwordChangeRequired: Type.Boolean() });
const PasswordChange = Type.Object({ currentPw: Type.String(), newPw: textField(10, 100, { description: 'New password' }) });

const bearer = Type.Object({ authorization: Type.Optional(Type.String({ description: 'Bearer <accessToken>' })) });
const errors = (...statuses: (400 | 401 | 403 | 404 | 409)[]) => Object.fromEntries([...statuses, 503].map((s) => [s, ErrorBody]));

export function accountHttp(useCases: AccountUseCases, tokens: { secret: string; clock: Clock }) {
  return new Elysia({ name: 'account.http' })
    .use(bearerAuth({ name: 'account.auth', ...tokens, caller: (claims, level) => useCases.caller(claims, level) }))
    .get(
      '/check/id/:id',
      async ({ params }) => {
        await useCases.checkId(pathText(params.id, 'ACCOUNT.INVALID', 'id'));
        return {};
      },
      { response: { 200: Empty, ...errors(400, 409) }, detail: { summary: 'Whether an id is free (200) or taken (409)', tags: ['account'] } },
    )
    .post(
      '/signup',
      async ({ body, set }) => {
        const user = await useCases.signUp(body);
        set.status = 201;
        return user;
      },
      { body: SignUp, response: { 201: User, ...errors(400, 409) }, detail: { summary: 'Sign up', tags: ['account'] } },
    )
    .post('/auth', ({ body }) => useCases.logIn(body), {
      body: Credentials,
      response: { 200: Tokens, ...errors(400, 401) },
      detail: { summary: 'Log in: access and refresh tokens', tags: ['account'] },
    })
    .post('/refresh', ({ request }) => useCases.refresh(bearerToken(request.headers.get('authorization'))), {
      headers: bearer,
      response: { 200: Type.Object({ accessToken: Type.String() }), ...errors(401) },
      detail: { summary: 'A new access token, for `Authorization: Bearer <refreshToken>`', tags: ['account'], security: [{ refreshToken: [] }] },
    })
    .get('/me', ({ me }) => useCases.me(me), {
      auth: 'access',
      headers: bearer,
      response: { 200: User, ...errors(401) },
      detail: { summary: 'The caller', tags: ['account'] },
    })
    .get('/user/:id', ({ params }) => useCases.user(pathText(params.id, 'ACCOUNT.NOT_FOUND', 'id')), {
      auth: 'access',
      headers: bearer,
      response: { 200: User, ...errors(401, 404) },
      detail: { summary: 'A user', tags: ['account'] },
    })
    .put(
      '/me/password',
      async ({ me, body }) => {
        await useCases.changePassword(me, body);
        return {};
      },
      {
        auth: 'access',
        headers: bearer,
        body: PasswordChange,
        response: { 200: Empty, ...errors(400, 401, 403, 409) },
        detail: { summary: 'Change the password (every token issued before stops working)', tags: ['account'] },
      },
    )
    .put('/me/nickname', ({ me, body }) => useCases.setNickname(me, body.nickname), {
      auth: 'access',
      headers: bearer,
      body: Type.Object({ nickname: nullableText(1, 30, 'Nickname') }),
      response: { 200: User, ...errors(400, 401) },
      detail: { summary: 'Set or clear (null) the nickname', tags: ['account'] },
    })
    .put('/me/bio', ({ me, body }) => useCases.setBio(me, body.bio), {
      auth: 'access',
      headers: bearer,
      body: Type.Object({ bio: nullableText(1, 85, 'Bio') }),
      response: { 200: User, ...errors(400, 401) },
      detail: { summary: 'Set or clear (null) the bio', tags: ['account'] },
    })
    .post(
      '/user/:id/temporary-password',
      async ({ params, set }) => {
        const issued = await useCases.issueTemporaryPassword(pathText(params.id, 'ACCOUNT.NOT_FOUND', 'id'));
        set.status = 201;
        return issued;
      },
      {
        auth: 'admin',
        headers: bearer,
        response: { 201: Type.Object({ temporaryPassword: Type.String() }), ...errors(401, 403, 404) },
        detail: { summary: 'Administrators: a temporary password for a user, shown once; it expires', tags: ['account'] },
      },
    );
}
