import { Elysia } from 'elysia';
import { Type } from '@sinclair/typebox';
import { DomainError } from '../../platform/errors.ts';
import { headerAuth, tokenHeader } from '../../platform/http/header-auth.ts';
import { EmptyBody, emptyAfter, ErrorBody } from '../../platform/http/schemas.ts';
import { Item } from '../item/contract/index.ts';
import type { User } from '../user/contract/index.ts';
import type { AlarmUseCases } from './use-cases.ts';

/** `item_id` as a JSON number or a numeric string; the alarm table stores it as `integer`. */
const ItemIdBody = Type.Object({
  item_id: Type.Union(
    [Type.Integer({ minimum: 1, maximum: 2147483647 }), Type.String({ pattern: '^[0-9]{1,10}$' })],
    { error: 'must be a positive integer, as a number or a numeric string', description: 'Item id: 12 or "12"' },
  ),
});

const headers = tokenHeader('USER-TOKEN');
const errors = { 400: ErrorBody, 401: ErrorBody, 404: EmptyBody, 503: ErrorBody };

function itemIdOf(raw: number | string): number {
  const id = Number(raw);
  if (!(id >= 1 && id <= 2147483647)) {
    throw new DomainError('ALARM.INVALID', 'item_id: must be a positive integer, as a number or a numeric string');
  }
  return id;
}

export function alarmHttp(useCases: AlarmUseCases, lookup: (token: string) => User | undefined | Promise<User | undefined>) {
  return new Elysia({ name: 'alarm.http' })
    .use(headerAuth({ name: 'alarm.auth', header: 'USER-TOKEN', lookup }))
    .post(
      '/',
      async ({ user, body, set }) => {
        await useCases.set(user.id, itemIdOf(body.item_id));
        set.status = 201;
        return {};
      },
      {
        headers,
        body: ItemIdBody,
        response: { 201: EmptyBody, ...errors },
        detail: { summary: "Set the caller's alarm on an item (idempotent)", tags: ['alarm'] },
      },
    )
    .get('/', ({ user }) => useCases.list(user.id), {
      headers,
      response: { 200: Type.Object({ count: Type.Integer(), payload: Type.Array(Item) }), 401: ErrorBody, 503: ErrorBody },
      detail: { summary: 'Items the caller has an alarm on, id descending', tags: ['alarm'] },
    })
    .delete('/', ({ user, body }) => emptyAfter(useCases.clear(user.id, itemIdOf(body.item_id))), {
      headers,
      body: ItemIdBody,
      response: { 200: EmptyBody, ...errors },
      detail: { summary: "Clear the caller's alarm on an item (idempotent)", tags: ['alarm'] },
    });
}
