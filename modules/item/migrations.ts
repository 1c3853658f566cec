import type { Migration } from 'kysely/migration';

/**
 * The item table comes from init_database.sql, untouched. The item module needs nothing more of
 * its database than the platform's outbox.
 */
export const migrations: Record<string, Migration> = {};
