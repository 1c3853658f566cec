import type { Generated } from 'kysely';

/** The alarm module's database, as created by init_database.sql (plus a unique index). */
export interface AlarmTable {
  id: Generated<number>;
  item_id: number | null;
  user_id: number | null;
  created: Date | null;
}

export interface AlarmDatabase {
  alarm: AlarmTable;
}
