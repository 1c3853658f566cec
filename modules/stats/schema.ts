import type { ColumnType } from 'kysely';

/** The statistics module's database. Internal to the module. */
export interface SecondTotalTable {
  /** Start of the second. */
  second: ColumnType<Date, Date, Date>;
  count: number;
}

export interface StatusMinuteTable {
  minute: ColumnType<Date, Date, Date>;
  status: number;
  count: number;
}

export interface EndpointMinuteTable {
  minute: ColumnType<Date, Date, Date>;
  /** `GET /post/{id}`. */
  endpoint: string;
  count: number;
}

/** Aggregates already added (message ids): a redelivered one is not counted twice. */
export interface SeenBatchTable {
  msg_id: string;
  seen_at: ColumnType<Date, Date, Date>;
}

export interface StatsDatabase {
  second_total: SecondTotalTable;
  status_minute: StatusMinuteTable;
  endpoint_minute: EndpointMinuteTable;
  seen_batch: SeenBatchTable;
}
