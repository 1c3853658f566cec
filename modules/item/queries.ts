import type { Kysely, Transaction } from 'kysely';
import type { Item } from './contract/index.ts';
import type { ItemDatabase } from './schema.ts';

type Db = Kysely<ItemDatabase> | Transaction<ItemDatabase>;

const columns = ['id', 'name', 'broadcaster', 'category', 'price'] as const;

export function allItems(db: Db): Promise<Item[]> {
  return db.selectFrom('item').select(columns).orderBy('id', 'desc').execute();
}

export async function findItem(db: Db, id: number): Promise<Item | null> {
  return (await db.selectFrom('item').select(columns).where('id', '=', id).executeTakeFirst()) ?? null;
}
