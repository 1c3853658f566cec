import { describe, expect, test } from 'bun:test';
import { Catalog } from './catalog.ts';
import type { Item } from './contract/index.ts';

const items: Item[] = [
  { id: 2, name: '22FW 오쏘몰 선크림 세트', broadcaster: 'gsshop', category: '패션·잡화', price: 251800 },
  { id: 10, name: 'ends with a space ', broadcaster: 'cjmall', category: null, price: 0 },
  { id: 7, name: 'quote " backslash \\ tab \t newline \n', broadcaster: 'nsmall', category: '가전·디지털', price: 1 },
];

const catalogOf = (list: Item[]) => {
  const c = new Catalog();
  c.replace(list);
  return c;
};

describe('catalog', () => {
  test('catalog list — is {count, payload}, id descending, every item with is_alarm_set false without alarms', () => {
    const body = JSON.parse(catalogOf(items).listJson(undefined));
    expect(body).toEqual({
      count: 3,
      payload: [10, 7, 2].map((id) => ({ ...items.find((i) => i.id === id)!, is_alarm_set: false })),
    });
    expect(JSON.parse(catalogOf(items).listJson([]))).toEqual(body);
  });

  test('catalog list — sets is_alarm_set true exactly for the alarmed items', () => {
    const body = JSON.parse(catalogOf(items).listJson([7, 99]));
    expect(body.payload.map((i: { id: number; is_alarm_set: boolean }) => [i.id, i.is_alarm_set])).toEqual([[10, false], [7, true], [2, false]]);
  });

  test('catalog list — renders each item with exactly the contract keys, in order', () => {
    const body = JSON.parse(catalogOf(items).listJson(undefined));
    for (const i of body.payload) expect(Object.keys(i)).toEqual(['id', 'name', 'broadcaster', 'category', 'price', 'is_alarm_set']);
  });

  test('catalog — keeps a null category as null and names byte-exact, escapes included', () => {
    const c = catalogOf(items);
    expect(JSON.parse(c.detailJson(10, false)!)).toEqual({ payload: { ...items[1]!, is_alarm_set: false } });
    expect(JSON.parse(c.detailJson(10, false)!).payload.category).toBeNull();
    expect(JSON.parse(c.detailJson(7, true)!).payload.name).toBe(items[2]!.name);
  });

  test('catalog detail — is {payload} with the given is_alarm_set, undefined for an unknown id', () => {
    const c = catalogOf(items);
    expect(JSON.parse(c.detailJson(2, true)!)).toEqual({ payload: { ...items[0]!, is_alarm_set: true } });
    expect(JSON.parse(c.detailJson(2, false)!)).toEqual({ payload: { ...items[0]!, is_alarm_set: false } });
    expect(c.detailJson(3, false)).toBeUndefined();
  });

  test('catalog — get and size answer for the items held', () => {
    const c = catalogOf(items);
    expect(c.get(7)).toEqual(items[2]!);
    expect(c.get(8)).toBeUndefined();
    expect(c.size).toBe(3);
  });

  test('catalog page — id descending from the top or below an id, with the id to go on from; null after the last', () => {
    const c = catalogOf(items);
    expect(c.page(undefined, 2)).toEqual({ items: [items[1]!, items[2]!], next: 7 });
    expect(c.page(7, 2)).toEqual({ items: [items[0]!], next: null });
    expect(c.page(undefined, 3)).toEqual({ items: [items[1]!, items[2]!, items[0]!], next: null });
    expect(c.page(2, 5)).toEqual({ items: [], next: null });
  });

  test('catalog — replace swaps the whole catalog: items no longer listed are gone', () => {
    const c = catalogOf(items);
    c.replace([{ ...items[0]!, price: 5 }]);
    expect(c.size).toBe(1);
    expect(c.get(10)).toBeUndefined();
    expect(c.detailJson(10, false)).toBeUndefined();
    expect(JSON.parse(c.listJson(undefined))).toEqual({ count: 1, payload: [{ ...items[0]!, price: 5, is_alarm_set: false }] });
  });

  test('catalog — an empty catalog lists {count: 0, payload: []}', () => {
    expect(JSON.parse(catalogOf([]).listJson([1]))).toEqual({ count: 0, payload: [] });
  });

  test('catalog — keeps its items when the array it was given changes later', () => {
    const list = [...items];
    const c = catalogOf(list);
    list.length = 0;
    expect(c.size).toBe(3);
    expect(JSON.parse(c.listJson(undefined)).count).toBe(3);
  });
});

describe('catalog list bodies', () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);

  test('catalog listBody — is listJson as UTF-8 bytes, for no alarms and for an alarm set', () => {
    const c = catalogOf(items);
    expect(text(c.listBody(undefined))).toBe(c.listJson(undefined));
    expect(text(c.listBody([7]))).toBe(c.listJson([7]));
  });

  test('catalog listBody — no alarm (or only alarms on items it does not hold) is one shared body; an alarm set patches a copy of it', () => {
    const c = catalogOf(items);
    expect(c.listBody([])).toBe(c.listBody(undefined));
    expect(c.listBody([99])).toBe(c.listBody(undefined));
    const patched = c.listBody([2, 10]);
    expect(patched).not.toBe(c.listBody(undefined));
    expect(JSON.parse(text(patched)).payload.map((i: { id: number; is_alarm_set: boolean }) => [i.id, i.is_alarm_set])).toEqual([[10, true], [7, false], [2, true]]);
    // The shared body is left as it was.
    expect(JSON.parse(text(c.listBody(undefined))).payload.every((i: { is_alarm_set: boolean }) => !i.is_alarm_set)).toBe(true);
  });

  test('catalog listBody — multi-byte names keep every offset right, for every subset of alarms', () => {
    const wide: Item[] = [1, 2, 3, 4].map((id) => ({ id, name: `상품 ${'가'.repeat(id)} "q"`, broadcaster: 'x', category: id % 2 ? null : '패션', price: id }));
    const c = catalogOf(wide);
    for (let mask = 0; mask < 16; mask++) {
      const set = wide.filter((i) => mask & (1 << (i.id - 1))).map((i) => i.id);
      const body = JSON.parse(text(c.listBody(set)));
      expect(body.payload).toEqual([4, 3, 2, 1].map((id) => ({ ...wide[id - 1]!, is_alarm_set: set.includes(id) })));
    }
  });

  test('catalog listBody — a replaced catalog renders anew', () => {
    const c = catalogOf(items);
    const before = text(c.listBody(undefined));
    c.replace([items[0]!]);
    expect(text(c.listBody(undefined))).not.toBe(before);
    expect(JSON.parse(text(c.listBody(undefined))).count).toBe(1);
  });
});
