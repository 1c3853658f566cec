import type { Item } from './contract/index.ts';

const utf8 = new TextEncoder();
const NO_ALARMS: ReadonlySet<number> = new Set();

/**
 * Every item, held in memory by its owner: the list is read on every `GET /`, never written
 * through the API, and small (the kit has 100). Each item's JSON is rendered once in both
 * `is_alarm_set` states, and each list body once per alarm set, already encoded: a `GET /` that
 * repeats finds its bytes ready (most users have no alarm, and share one body).
 */
export class Catalog {
  private readonly byId = new Map<number, { item: Item; json: [string, string] }>();
  private ordered: { item: Item; json: [string, string] }[] = [];
  /** Encoded list bodies by alarm set. Sets are the replica's values: a changed set is a new object. */
  private bodies = new WeakMap<ReadonlySet<number>, Uint8Array<ArrayBuffer>>();

  replace(items: Item[]) {
    this.byId.clear();
    this.bodies = new WeakMap();
    for (const item of items) {
      const base = JSON.stringify(item).slice(0, -1);
      this.byId.set(item.id, { item, json: [`${base},"is_alarm_set":false}`, `${base},"is_alarm_set":true}`] });
    }
    this.ordered = [...this.byId.values()].sort((a, b) => b.item.id - a.item.id);
  }

  get(id: number): Item | undefined {
    return this.byId.get(id)?.item;
  }

  keys(): string[] {
    return [...this.byId.keys()].map(String);
  }

  get size() {
    return this.byId.size;
  }

  /** `{"count": N, "payload": [...]}` with `is_alarm_set` from `alarmed`, id descending. */
  listJson(alarmed: ReadonlySet<number> | undefined): string {
    const parts = this.ordered.map((e) => e.json[alarmed?.has(e.item.id) ? 1 : 0]);
    return `{"count":${parts.length},"payload":[${parts.join(',')}]}`;
  }

  /** `listJson` as UTF-8 bytes, rendered once per alarm set. */
  listBody(alarmed: ReadonlySet<number> | undefined): Uint8Array<ArrayBuffer> {
    const key = alarmed && alarmed.size > 0 ? alarmed : NO_ALARMS;
    let body = this.bodies.get(key);
    if (!body) this.bodies.set(key, (body = utf8.encode(this.listJson(key))));
    return body;
  }

  /** `{"payload": {...}}` for one item. */
  detailJson(id: number, alarmed: boolean): string | undefined {
    const e = this.byId.get(id);
    return e && `{"payload":${e.json[alarmed ? 1 : 0]}}`;
  }
}
