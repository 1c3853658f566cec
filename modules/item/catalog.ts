import type { Item } from './contract/index.ts';

const utf8 = new TextEncoder();
const TRUE = utf8.encode('true');

interface Entry {
  item: Item;
  /** The item's JSON without `is_alarm_set` and its closing brace. */
  base: string;
}

/**
 * Every item, held in memory by its owner: the list is read on every `GET /`, never written
 * through the API, and bounded by the catalog (10,000 items is 1.5 MB of JSON). The list body is
 * rendered once, encoded, with every `is_alarm_set` false; a caller's body is that one with the
 * few `false`s of their alarmed items turned to `true` — one copy of the bytes, whatever the
 * number of users or alarm sets (nothing is kept per caller).
 */
export class Catalog {
  private readonly byId = new Map<number, Entry>();
  private ordered: Entry[] = [];
  private body: Uint8Array<ArrayBuffer> = utf8.encode('{"count":0,"payload":[]}');
  /** Byte offset, in `body`, of each item's `false`. */
  private falseAt = new Map<number, number>();

  replace(items: Item[]) {
    this.byId.clear();
    for (const item of items) this.byId.set(item.id, { item, base: JSON.stringify(item).slice(0, -1) });
    this.ordered = [...this.byId.values()].sort((a, b) => b.item.id - a.item.id);
    const head = `{"count":${this.ordered.length},"payload":[`;
    let text = head;
    let bytes = Buffer.byteLength(head);
    this.falseAt = new Map();
    this.ordered.forEach((e, i) => {
      const before = `${i === 0 ? '' : ','}${e.base},"is_alarm_set":`;
      text += `${before}false}`;
      bytes += Buffer.byteLength(before);
      this.falseAt.set(e.item.id, bytes);
      bytes += 6;
    });
    this.body = utf8.encode(`${text}]}`);
  }

  get(id: number): Item | undefined {
    return this.byId.get(id)?.item;
  }

  get size() {
    return this.byId.size;
  }

  /** A page of the catalog, id descending: ids below `before`, at most `limit`. */
  page(before: number | undefined, limit: number): { items: Item[]; next: number | null } {
    const start = before === undefined ? 0 : this.ordered.findIndex((e) => e.item.id < before);
    const slice = start < 0 ? [] : this.ordered.slice(start, start + limit);
    const more = start >= 0 && start + limit < this.ordered.length;
    return { items: slice.map((e) => e.item), next: more ? slice[slice.length - 1]!.item.id : null };
  }

  /** `{"count": N, "payload": [...]}` with `is_alarm_set` from `alarmed`, id descending, as UTF-8. */
  listBody(alarmed: readonly number[] | undefined): Uint8Array<ArrayBuffer> {
    if (!alarmed || alarmed.length === 0) return this.body;
    const offsets: number[] = [];
    for (const id of alarmed) {
      const at = this.falseAt.get(id);
      if (at !== undefined) offsets.push(at);
    }
    if (offsets.length === 0) return this.body;
    offsets.sort((a, b) => a - b);
    // "true" is a byte shorter than "false".
    const out = new Uint8Array(this.body.length - offsets.length);
    let from = 0;
    let to = 0;
    for (const at of offsets) {
      out.set(this.body.subarray(from, at), to);
      to += at - from;
      out.set(TRUE, to);
      to += 4;
      from = at + 5;
    }
    out.set(this.body.subarray(from), to);
    return out;
  }

  /** `listBody` as text. */
  listJson(alarmed: readonly number[] | undefined): string {
    return new TextDecoder().decode(this.listBody(alarmed));
  }

  /** `{"payload": {...}}` for one item. */
  detailJson(id: number, alarmed: boolean): string | undefined {
    const e = this.byId.get(id);
    return e && `{"payload":${e.base},"is_alarm_set":${alarmed}}}`;
  }
}
