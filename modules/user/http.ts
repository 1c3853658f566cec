import { Elysia } from 'elysia';
import { Type } from '@sinclair/typebox';
import { headerAuth } from '../../platform/header-auth.ts';
import { ErrorBody } from '../../platform/http-schemas.ts';
import { Item } from '../item/contract/index.ts';
import { User } from './contract/index.ts';
import type { Directory, UserUseCases } from './use-cases.ts';

const headers = Type.Object({ 'user-token': Type.String({ description: "The caller's access token" }) });

export function userHttp(useCases: UserUseCases, directory: Directory) {
  return new Elysia({ name: 'user.http' })
    .use(headerAuth({ name: 'user.auth', header: 'USER-TOKEN', authenticate: (t) => directory.authenticate(t) }))
    .get('/', () => useCases.listUsers(), {
      headers,
      response: { 200: Type.Object({ count: Type.Integer(), payload: Type.Array(User) }), 401: ErrorBody },
      detail: { summary: 'Every user, id descending (the contract exposes tokens)', tags: ['user'] },
    })
    .get('/visit', ({ user }) => useCases.recentVisits(user.id), {
      headers,
      response: {
        200: Type.Object({
          count: Type.Integer(),
          payload: Type.Array(Type.Composite([Item, Type.Object({ is_alarm_set: Type.Boolean() })])),
        }),
        401: ErrorBody,
        503: ErrorBody,
      },
      detail: {
        summary: "The caller's recently viewed items: newest first, consecutive repeats collapsed, at most 3",
        tags: ['user'],
      },
    });
}
