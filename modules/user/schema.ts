import type { ColumnType } from 'kysely';

/** The user module's database: init_database.sql's "user" table plus the visit history. */
export interface UserTable {
  id: number;
  name: string;
  access_token: string;
}

export interface VisitTable {
  /** The visit event's id (UUIDv7): primary key for idempotency, and time order. */
  visit_id: string;
  user_id: number;
  item_id: number;
  visited_at: ColumnType<Date, string, never>;
}

export interface UserDatabase {
  user: UserTable;
  visit: VisitTable;
}
