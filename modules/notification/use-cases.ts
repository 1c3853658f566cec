import type { Kysely } from 'kysely';
import { userRefOf, type Account, type Caller } from '../account/contract/index.ts';
import { Commented, feedEvents, PostDeleted, PostReacted } from '../feed/contract/index.ts';
import type { DeliveredEvent } from '../../platform/bus/index.ts';
import { DomainError } from '../../platform/errors.ts';
import { pageResult, type Page } from '../../platform/pagination.ts';
import { parserOf } from '../../platform/bus/schema.ts';
import type { NotificationType } from './contract/index.ts';
import { forgetPost, insertNotification, listNotifications, markAllRead, markRead, unreadCount } from './queries.ts';
import type { NotificationDatabase, NotificationRow } from './schema.ts';

const parseCommented = parserOf(Commented);
const parsePostReacted = parserOf(PostReacted);
const parsePostDeleted = parserOf(PostDeleted);

/** An account as notifications read it: from their copy of the accounts bucket. */
export type AccountOf = (id: string) => Account | undefined | Promise<Account | undefined>;

export function notificationUseCases(deps: { db: Kysely<NotificationDatabase>; account: AccountOf }) {
  const { db, account } = deps;

  const view = async (row: NotificationRow) => ({
    id: Number(row.id),
    type: row.type as NotificationType,
    actor: userRefOf(row.actor_id, await account(row.actor_id)),
    postId: Number(row.post_id),
    read: row.read,
    createdAt: row.created_at.toISOString(),
  });

  return {
    /**
     * One feed event (at least once, maybe again): a comment by someone else on a post is a
     * type-1 notification for its owner; a first reaction by someone else a type-2 one; a
     * deleted post takes its notifications along. Never one for your own action.
     */
    async handle(event: DeliveredEvent): Promise<void> {
      switch (event.subject.slice(event.subject.indexOf('events.feed.'))) {
        case feedEvents.commented: {
          const e = parseCommented(event.payload);
          if (e.actor === e.postOwner) return;
          await insertNotification(db, { eventId: e.eventId, recipientId: e.postOwner, type: 1, actorId: e.actor, postId: e.postId, at: e.at });
          return;
        }
        case feedEvents.postReacted: {
          const e = parsePostReacted(event.payload);
          if (e.actor === e.postOwner || !e.first) return;
          await insertNotification(db, { eventId: e.eventId, recipientId: e.postOwner, type: 2, actorId: e.actor, postId: e.postId, at: e.at });
          return;
        }
        case feedEvents.postDeleted:
          await forgetPost(db, parsePostDeleted(event.payload).postId);
      }
    },

    async list(me: Caller, page: Page, read: boolean | undefined) {
      const rows = await listNotifications(db, me.id, { before: page.after, limit: page.limit + 1, read });
      const { items, nextCursor } = pageResult(rows, page, 'notification', (r) => Number(r.id));
      return { items: await Promise.all(items.map(view)), nextCursor, unreadCount: await unreadCount(db, me.id) };
    },

    async markRead(me: Caller, id: number) {
      if (!(await markRead(db, me.id, id))) throw new DomainError('NOTIFICATION.NOT_FOUND', `no notification ${id}`);
    },

    markAllRead: async (me: Caller) => ({ count: await markAllRead(db, me.id) }),

    unreadCount: (userId: string) => unreadCount(db, userId),
  };
}

export type NotificationUseCases = ReturnType<typeof notificationUseCases>;
