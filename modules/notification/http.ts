import { Elysia } from 'elysia';
import { Type } from '@sinclair/typebox';
import { checkCaller, UserRef } from '../account/contract/index.ts';
import { bearerAuth, bearerErrors, guarded } from '../../platform/http/bearer-auth.ts';
import type { Clock } from '../../platform/clock.ts';
import { emptyAfter, pathId } from '../../platform/http/schemas.ts';
import { pageOf } from '../../platform/pagination.ts';
import { DomainError } from '../../platform/errors.ts';
import { NotificationType } from './contract/index.ts';
import type { AccountOf, NotificationUseCases } from './use-cases.ts';

const Notification = Type.Object({
  id: Type.Integer(),
  type: NotificationType,
  actor: UserRef,
  postId: Type.Integer(),
  read: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
});
const ListQuery = Type.Object({
  limit: Type.Optional(Type.String({ description: '1 to 100, default 20' })),
  cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
  unread: Type.Optional(Type.String({ description: 'true: unread only; false: read only; absent: all' })),
});

function readFilter(unread: string | undefined): boolean | undefined {
  if (unread === undefined) return undefined;
  if (unread === 'true') return false;
  if (unread === 'false') return true;
  throw new DomainError('NOTIFICATION.INVALID', 'unread: must be true or false');
}

export function notificationHttp(useCases: NotificationUseCases, account: AccountOf, tokens: { secret: string; clock: Clock }) {
  return new Elysia({ name: 'notification.http' })
    .use(bearerAuth({ name: 'notification.auth', ...tokens, caller: (claims, level) => checkCaller(account, claims, level) }))
    .get('/notification', ({ me, query }) => useCases.list(me, pageOf(query, 'notification', 'NOTIFICATION.INVALID'), readFilter(query.unread)), {
      ...guarded('access'),
      query: ListQuery,
      response: {
        200: Type.Object({ items: Type.Array(Notification), nextCursor: Type.Union([Type.String(), Type.Null()]), unreadCount: Type.Integer() }),
        ...bearerErrors(400),
      },
      detail: { summary: 'Your notifications, newest first, with the number unread', tags: ['notification'] },
    })
    .post(
      '/notification/read',
      ({ me }) => useCases.markAllRead(me),
      {
        ...guarded('access'),
        response: { 200: Type.Object({ count: Type.Integer({ description: 'How many were unread' }) }), ...bearerErrors() },
        detail: { summary: 'Mark all your notifications read', tags: ['notification'] },
      },
    )
    .post('/notification/:id/read', ({ me, params }) => emptyAfter(useCases.markRead(me, pathId(params.id, 'NOTIFICATION.NOT_FOUND', 'notification'))), {
      ...guarded('access'),
      response: { 200: Type.Object({}, { additionalProperties: false }), ...bearerErrors(404) },
      detail: { summary: 'Mark one of your notifications read (404 for anyone else\'s)', tags: ['notification'] },
    });
}
