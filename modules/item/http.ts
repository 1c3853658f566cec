import { Elysia } from 'elysia';
import { Type } from '@sinclair/typebox';
import { headerAuth, tokenHeader } from '../../platform/http/header-auth.ts';
import { EmptyBody, ErrorBody, jsonResponse } from '../../platform/http/schemas.ts';
import { DomainError } from '../../platform/errors.ts';
import { Item } from './contract/index.ts';
import type { User } from '../user/contract/index.ts';
import type { Catalog } from './catalog.ts';
import type { ItemUseCases } from './use-cases.ts';

const ItemWithAlarm = Type.Composite([Item, Type.Object({ is_alarm_set: Type.Boolean() })]);
const headers = tokenHeader('USER-TOKEN');

/**
 * Path ids: decimal digits within the safe integer range; anything else is an unknown item.
 * `raw` is null when the path segment is not valid percent-encoding (`/%ZZ`): Elysia cannot
 * decode it. That too is a non-numeric id, so 404 — which is why the route declares no params
 * schema: one would turn that null into a 400 the contract does not have.
 */
function itemIdOf(raw: string | null): number {
  const id = raw !== null && /^[0-9]{1,15}$/.test(raw) ? Number(raw) : 0;
  if (id < 1) throw new DomainError('ITEM.NOT_FOUND', `no item ${raw}`);
  return id;
}

/** The routes; `catalog` renders the bodies the use cases' values describe. */
export function itemHttp(useCases: ItemUseCases, catalog: Catalog, lookup: (token: string) => User | undefined | Promise<User | undefined>) {
  return new Elysia({ name: 'item.http' })
    .use(headerAuth({ name: 'item.auth', header: 'USER-TOKEN', lookup }))
    // The catalog renders: one body for every caller, their alarm flags patched in.
    .get('/', async ({ user }) => jsonResponse(catalog.listBody((await useCases.listItems(user.id)).alarmed)), {
      headers,
      response: {
        200: Type.Object({ count: Type.Integer(), payload: Type.Array(ItemWithAlarm) }),
        401: ErrorBody,
        503: ErrorBody,
      },
      detail: { summary: 'Every item, id descending, with is_alarm_set for the caller', tags: ['item'] },
    })
    .get('/:item_id', async ({ user, params }) => {
      const { item, isAlarmSet } = await useCases.viewItem(user.id, itemIdOf(params.item_id));
      return jsonResponse(catalog.detailJson(item.id, isAlarmSet)!);
    }, {
      headers,
      response: {
        200: Type.Object({ payload: ItemWithAlarm }),
        401: ErrorBody,
        404: EmptyBody,
        503: ErrorBody,
      },
      detail: { summary: 'One item with is_alarm_set; records a visit of the caller', tags: ['item'] },
    });
}
