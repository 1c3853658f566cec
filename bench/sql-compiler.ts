import { DummyDriver, Kysely, PostgresAdapter, PostgresIntrospector, PostgresQueryCompiler } from 'kysely';
import type { FeedDatabase } from '../modules/feed/schema.ts';

/** Compiles the feed's own queries to SQL without a connection: what a floor or an EXPLAIN sends. */
export const feedCompiler = new Kysely<FeedDatabase>({
  dialect: {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (db) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  },
});
