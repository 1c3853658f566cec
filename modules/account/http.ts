import { Elysia } from 'elysia';
import { Type } from '@sinclair/typebox';
import { bearerAuth, BearerHeader, bearerErrors, bearerToken, guarded } from '../../platform/http/bearer-auth.ts';
import type { Clock } from '../../platform/clock.ts';
import { EmptyBody, emptyAfter, errorResponses, pathText } from '../../platform/http/schemas.ts';
import { ACCOUNT_LIMITS } from './contract/index.ts';
import { lengthHint, textField, type TextLimit } from '../../platform/text.ts';
import type { AccountUseCases } from './use-cases.ts';
import { UserView } from './views.ts';

const nullableText = (limit: TextLimit, what: string) => Type.Union([textField(limit, { description: what }), Type.Null()], { error: lengthHint(limit) });

const SignUp = Type.Object({
  id: textField(ACCOUNT_LIMITS.id, { description: 'Letters, digits, _, - and .' }),
  pw: textField(ACCOUNT_LIMITS.password, { description: 'Password' }),
  name: textField(ACCOUNT_LIMITS.name, { description: 'Name' }),
  nickname: Type.Optional(nullableText(ACCOUNT_LIMITS.nickname, 'Nickname')),
  bio: Type.Optional(nullableText(ACCOUNT_LIMITS.bio, 'Bio')),
});
const Credentials = Type.Object({ id: Type.String(), pw: Type.String() });
const Tokens = Type.Object({ accessToken: Type.String(), refreshToken: Type.String(), passwordChangeRequired: Type.Boolean() });
const PasswordChange = Type.Object({ currentPw: Type.String(), newPw: textField(ACCOUNT_LIMITS.password, { description: 'New password' }) });


export function accountHttp(useCases: AccountUseCases, tokens: { secret: string; clock: Clock }) {
  return new Elysia({ name: 'account.http' })
    .use(bearerAuth({ name: 'account.auth', ...tokens, caller: (claims, level) => useCases.caller(claims, level) }))
    .get('/check/id/:id', ({ params }) => emptyAfter(useCases.checkId(pathText(params.id, 'ACCOUNT.INVALID', 'id'))), {
      response: { 200: EmptyBody, ...errorResponses(400, 409) },
      detail: { summary: 'Whether an id is free (200) or taken (409)', tags: ['account'] },
    })
    .post(
      '/signup',
      async ({ body, set }) => {
        const user = await useCases.signUp(body);
        set.status = 201;
        return user;
      },
      { body: SignUp, response: { 201: UserView, ...errorResponses(400, 409) }, detail: { summary: 'Sign up', tags: ['account'] } },
    )
    .post('/auth', ({ body }) => useCases.logIn(body), {
      body: Credentials,
      response: { 200: Tokens, ...errorResponses(400, 401) },
      detail: { summary: 'Log in: access and refresh tokens', tags: ['account'] },
    })
    .post('/refresh', ({ request }) => useCases.refresh(bearerToken(request.headers.get('authorization'))), {
      headers: BearerHeader,
      response: { 200: Type.Object({ accessToken: Type.String() }), ...bearerErrors() },
      detail: { summary: 'A new access token, for `Authorization: Bearer <refreshToken>`', tags: ['account'], security: [{ refreshToken: [] }] },
    })
    .get('/me', ({ me }) => useCases.me(me), {
      ...guarded('access'),
      response: { 200: UserView, ...bearerErrors() },
      detail: { summary: 'The caller', tags: ['account'] },
    })
    .get('/user/:id', ({ params }) => useCases.user(pathText(params.id, 'ACCOUNT.NOT_FOUND', 'id')), {
      ...guarded('access'),
      response: { 200: UserView, ...bearerErrors(404) },
      detail: { summary: 'A user', tags: ['account'] },
    })
    .put('/me/password', ({ me, body }) => emptyAfter(useCases.changePassword(me, body)), {
      ...guarded('access'),
      body: PasswordChange,
      response: { 200: EmptyBody, ...bearerErrors(400, 403, 409) },
      detail: { summary: 'Change the password (every token issued before stops working)', tags: ['account'] },
    })
    .put('/me/nickname', ({ me, body }) => useCases.setNickname(me, body.nickname), {
      ...guarded('access'),
      body: Type.Object({ nickname: nullableText(ACCOUNT_LIMITS.nickname, 'Nickname') }),
      response: { 200: UserView, ...bearerErrors(400) },
      detail: { summary: 'Set or clear (null) the nickname', tags: ['account'] },
    })
    .put('/me/bio', ({ me, body }) => useCases.setBio(me, body.bio), {
      ...guarded('access'),
      body: Type.Object({ bio: nullableText(ACCOUNT_LIMITS.bio, 'Bio') }),
      response: { 200: UserView, ...bearerErrors(400) },
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
        ...guarded('admin'),
        response: { 201: Type.Object({ temporaryPassword: Type.String() }), ...bearerErrors(403, 404) },
        detail: { summary: 'Administrators: a temporary password for a user, shown once; it expires', tags: ['account'] },
      },
    );
}
