import type { ColumnType, Generated, Selectable } from 'kysely';

/** The notification module's database. Internal to the module. */
export interface NotificationTable {
  id: Generated<number>;
  recipient_id: string;
  type: number;
  actor_id: string;
  post_id: number;
  read: Generated<boolean>;
  created_at: ColumnType<Date, string | undefined, never>;
  /** The feed event it was made from: a redelivered event finds it and makes no second one. */
  event_id: string;
}

/** Posts deleted: an event about one that arrives late makes no notification. */
export interface DeletedPostTable {
  post_id: number;
}

export interface NotificationDatabase {
  notification: NotificationTable;
  deleted_post: DeletedPostTable;
}

export type NotificationRow = Selectable<NotificationTable>;
