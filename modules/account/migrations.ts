import { sql, type Kysely } from 'kysely';
import type { Migration } from 'kysely/migration';

export const migrations: Record<string, Migration> = {
  '2026_11_24_0001_account': {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('account')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('password_hash', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('nickname', 'text')
        .addColumn('bio', 'text')
        .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
        .addColumn('is_admin', 'boolean', (c) => c.notNull().defaultTo(false))
        .addColumn('token_version', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('temporary_password_expires_at', 'timestamptz')
        .execute();
    },
  },
};
