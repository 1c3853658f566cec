import { Elysia } from 'elysia';
import { Type } from '@sinclair/typebox';
import { headerAuth, tokenHeader } from '../../platform/http/header-auth.ts';
import { ErrorBody } from '../../platform/http/schemas.ts';
import { Item } from '../item/contract/index.ts';
import { User } from './contract/index.ts';
import type { UserUseCases } from './use-cases.ts';

const headers = tokenHeader('USER-TOKEN');

const utf8 = new TextEncoder();

/** `{"count": N, "payload": [...]}` written as the pages come: the body never sits in memory whole. */
function streamed(list: { count: number; pages: AsyncIterable<User[]> }): Response {
  const pages = list.pages[Symbol.asyncIterator]();
  let first = true;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(utf8.encode(`{"count":${list.count},"payload":[`));
    },
    async pull(controller) {
      const next = await pages.next();
      if (next.done) {
        controller.enqueue(utf8.encode(']}'));
        controller.close();
        return;
      }
      const json = next.value.map((u) => JSON.stringify(u)).join(',');
      controller.enqueue(utf8.encode(first ? json : `,${json}`));
      first = false;
    },
    async cancel() {
      await pages.return?.();
    },
  });
  return new Response(body, { headers: { 'content-type': 'application/json; charset=utf-8' } });
}

export function userHttp(useCases: UserUseCases, lookup: (token: string) => User | undefined | Promise<User | undefined>) {
  return new Elysia({ name: 'user.http' })
    .use(headerAuth({ name: 'user.auth', header: 'USER-TOKEN', lookup }))
    .get('/', async () => streamed(await useCases.listUsers()), {
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
