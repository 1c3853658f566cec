import type { Kysely, Transaction } from 'kysely';
import type { Item } from './contract/index.ts';
import type { ItemDatabase } from './schema.ts';

type Db = Kysely<ItemDatabase> | Transaction<ItemDatabase>;

const columns = ['id', 'name', 'broadcaster', 'category', 'price'] as const;

export function allItems(db: Db): Promise<Item[]> {
  return db.selectFrom('item').select(columns).orderBy('id', 'desc').execute();
}

/** Items with ids above `after`, ascending, at most `limit`. */
export function itemsAfter(db: Db, after: number, limit: number): Promise<Item[]> {
  return db.selectFrom('item').select(columns).where('id', '>', after).orderBy('id').limit(limit).execute();
}

export function itemsByIds(db: Db, ids: number[]): Promise<Item[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom('item').select(columns).where('id', 'in', ids).execute();
}
