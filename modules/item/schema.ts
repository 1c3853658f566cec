/** The item module's database, as created by init_database.sql. Internal to the module. */
export interface ItemTable {
  id: number;
  name: string;
  broadcaster: string;
  category: string | null;
  price: number;
}

export interface ItemDatabase {
  item: ItemTable;
}
