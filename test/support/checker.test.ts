import { describe, expect, test } from 'bun:test';
import { check, convergenceProblems, recentVisits, type Kind, type Request } from './checker.ts';

/**
 * The fault suite's checker on synthetic histories: what it must flag and what it must let pass.
 * Times are in ms; user 1 unless said.
 */
let seq = 0;
const request = (kind: Kind, [start, end]: [number, number], status: number, extra: Partial<Request> = {}): Request => ({ seq: ++seq, kind, user: 1, start, end, status, marked: false, ...extra });
const set = (item: number, at: [number, number], status = 201, extra: Partial<Request> = {}) => request('alarm POST', at, status, { item, ...extra });
const clear = (item: number, at: [number, number], status = 200, extra: Partial<Request> = {}) => request('alarm DELETE', at, status, { item, ...extra });
/** `GET /` on 5001 showing these items' is_alarm_set. */
const itemList = (alarms: Record<number, boolean>, at: [number, number], status = 200, extra: Partial<Request> = {}) => request('item list', at, status, { alarms, ...extra });
const alarmList = (items: number[], at: [number, number]) => request('alarm list', at, 200, { alarms: Object.fromEntries(items.map((i) => [i, true])), complete: true });
const visit = (item: number, at: [number, number], status = 200, extra: Partial<Request> = {}) => request('item detail', at, status, { item, alarms: { [item]: false }, ...extra });
/** `GET /visit` listing these items, each with is_alarm_set false unless `alarmed`. */
const visitList = (items: number[], at: [number, number], alarmed: number[] = []) => request('visit list', at, 200, { visits: items, alarms: Object.fromEntries(items.map((i) => [i, alarmed.includes(i)])) });
const rules = (history: Request[]) => check(history).map((v) => v.rule);

describe('checker — read-your-writes, unless marked', () => {
  test('a read started after a write was answered 201 that does not show it is flagged, naming both', () => {
    const history = [set(7, [0, 10]), itemList({ 7: false }, [20, 30])];
    const [violation, ...rest] = check(history);
    expect(rest).toEqual([]);
    expect(violation!.rule).toBe('read-your-writes');
    expect(violation!.message).toContain(`#${history[1]!.seq} GET / on 5001 (user 1) 0.020–0.030 s → 200 shows item 7 is_alarm_set=false`);
    expect(violation!.message).toContain(`#${history[0]!.seq} POST / on 6001 (user 1, item 7) 0.000–0.010 s → 201 was acknowledged before it started (may show: true)`);
  });

  test('the same read showing the write passes, on any port', () => {
    expect(check([set(7, [0, 10]), itemList({ 7: true }, [20, 30]), alarmList([7], [20, 30]), visit(7, [20, 30], 200, { alarms: { 7: true } })])).toEqual([]);
  });

  test('a stale read marked X-Consistency: local is accepted', () => {
    expect(check([set(7, [0, 10]), itemList({ 7: false }, [20, 30], 200, { marked: true })])).toEqual([]);
  });

  test('a read answered 503 is accepted', () => {
    expect(check([set(7, [0, 10]), itemList({}, [20, 30], 503)])).toEqual([]);
  });

  test('a read that started before the write was answered may show either value', () => {
    expect(check([set(7, [0, 10]), itemList({ 7: false }, [5, 30]), itemList({ 7: true }, [5, 30])])).toEqual([]);
  });

  test('a write answered 503 (saved, not confirmed) may show or not, until an acknowledged write overtakes it', () => {
    expect(check([set(7, [0, 10], 503), itemList({ 7: true }, [20, 30]), itemList({ 7: false }, [20, 30])])).toEqual([]);
    expect(rules([set(7, [0, 10], 503), clear(7, [20, 30]), itemList({ 7: true }, [40, 50])])).toEqual(['read-your-writes']);
  });

  test('a write that got no answer may show or not: one timed out even after a later write was acknowledged', () => {
    const timedOut = set(7, [0, 5000], 0, { noAnswer: 'timeout' });
    expect(check([timedOut, itemList({ 7: true }, [100, 110]), itemList({ 7: false }, [6000, 6010])]).filter((v) => v.rule !== 'answers')).toEqual([]);
    expect(check([timedOut, clear(7, [5100, 5200]), itemList({ 7: true }, [6000, 6010])]).filter((v) => v.rule !== 'answers')).toEqual([]);
  });

  test('a marked 2xx write binds no read', () => {
    expect(check([set(7, [0, 10], 201, { marked: true }), itemList({ 7: false }, [20, 30])])).toEqual([]);
  });

  test('an alarm list lacking an acknowledged alarm is flagged; one listing an alarm never set is too', () => {
    expect(rules([set(7, [0, 10]), alarmList([], [20, 30])])).toEqual(['read-your-writes']);
    expect(rules([alarmList([9], [20, 30])])).toEqual(['read-your-writes']);
  });

  test("another user's write is not this user's", () => {
    expect(rules([set(7, [0, 10], 201, { user: 2 }), itemList({ 7: true }, [20, 30])])).toEqual(['read-your-writes']);
  });
});

describe('checker — visits seen', () => {
  test('a /visit that does not show the newest acknowledged visit first is flagged (a stale /visit)', () => {
    const [violation, ...rest] = check([visit(3, [0, 10]), visit(4, [20, 30]), visitList([3], [40, 50])]);
    expect(rest).toEqual([]);
    expect(violation!.rule).toBe('visits seen');
    expect(violation!.message).toContain('GET /visit on 7001 (user 1) 0.040–0.050 s → 200 lists [3]');
    expect(violation!.message).toContain('GET /{item} on 5001 (user 1, item 4) 0.020–0.030 s → 200 was answered before it started');
  });

  test('with every visit known, the whole list follows the contract: newest first, repeats collapsed, 3 at most', () => {
    const visits = [visit(1, [0, 1]), visit(2, [2, 3]), visit(3, [4, 5]), visit(3, [6, 7]), visit(4, [8, 9])];
    expect(check([...visits, visitList([4, 3, 2], [10, 11])])).toEqual([]);
    expect(rules([...visits, visitList([4, 3], [10, 11])])).toEqual(['visits seen']);
    expect(recentVisits([1, 2, 1])).toEqual([1, 2, 1]);
  });

  test('a visit still in flight (or unanswered) may be newer: the acknowledged one need only be listed', () => {
    const inFlight = visit(5, [5, 5000], 0, { noAnswer: 'timeout' });
    expect(check([visit(4, [0, 10]), inFlight, visitList([5, 4], [20, 30])]).filter((v) => v.rule !== 'answers')).toEqual([]);
    expect(check([visit(4, [0, 10]), inFlight, visitList([4], [20, 30])]).filter((v) => v.rule !== 'answers')).toEqual([]);
    expect(check([visit(4, [0, 10]), inFlight, visitList([5], [20, 30])]).filter((v) => v.rule !== 'answers').map((v) => v.rule)).toEqual(['visits seen']);
  });

  test('a visit answered 503 may show or not', () => {
    expect(check([visit(4, [0, 10]), visit(5, [20, 30], 503), visitList([5, 4], [40, 50])])).toEqual([]);
    expect(check([visit(4, [0, 10]), visit(5, [20, 30], 503), visitList([4], [40, 50])])).toEqual([]);
  });
});

describe('checker — answers', () => {
  test('an answer after 2 s, no answer, or a status outside the contract and 503 is flagged', () => {
    expect(rules([itemList({}, [0, 2500])])).toEqual(['answers']);
    expect(rules([itemList({}, [0, 5000], 0, { noAnswer: 'timeout' })])).toEqual(['answers']);
    expect(rules([itemList({}, [0, 10], 500), itemList({}, [20, 30], 401)])).toEqual(['answers', 'answers']);
    expect(rules([itemList({}, [0, 10], 503), set(1, [0, 10], 201), clear(1, [20, 30], 200)])).toEqual([]);
  });

  test('a request to a process that was stopped meanwhile may wait or get no answer', () => {
    const outages = [{ port: 6001 as const, from: 100, to: 5100 }];
    expect(check([set(1, [50, 5200], 201), clear(1, [5300, 5301], 0, { noAnswer: 'closed' })], { outages }).map((v) => v.message)).toEqual([
      expect.stringContaining('→ no answer (closed) is unanswered'),
    ]);
    expect(check([set(1, [50, 5200], 201), itemList({ 1: true }, [5300, 5310])], { outages })).toEqual([]);
    // …but not a request to another port
    expect(rules([itemList({}, [50, 5200])])).toEqual(['answers']);
  });
});

describe('checker — converged, nothing lost or doubled', () => {
  const after = [100000, 100010] as [number, number];
  /** Each port's final read: `alarmed` the items with an alarm, `visits` the /visit list. */
  const finalReads = (alarmed: number[], visits: number[] = []) => [itemList(Object.fromEntries([1, 2].map((i) => [i, alarmed.includes(i)])), after), alarmList(alarmed, after), visitList(visits, after, alarmed)];

  test('every port showing the last acknowledged write, marked or not, and every 200 visit stored once, is converged', () => {
    const history = [set(1, [0, 10]), set(2, [20, 30], 201, { marked: true }), clear(1, [40, 50]), visit(2, [60, 70])];
    expect(convergenceProblems(history, { reads: finalReads([2], [2]), stored: new Map([[1, [2]]]) })).toEqual([]);
  });

  test('a lost write, ports that disagree, a lost and a doubled visit are each named', () => {
    const history = [set(1, [0, 10]), visit(2, [20, 30]), visit(1, [40, 50])];
    const reads = finalReads([], [1]);
    reads[1] = alarmList([1], after);
    const problems = convergenceProblems(history, { reads, stored: new Map([[1, [1, 1]]]) });
    expect(problems).toEqual([
      expect.stringContaining('GET / on 5001 (user 1) 100.000–100.010 s → 200 shows item 1 is_alarm_set=false; the last 2xx write is #'),
      expect.stringContaining("ports disagree on user 1's item 1: #"),
      expect.stringContaining('GET /visit on 7001 (user 1) 100.000–100.010 s → 200 shows item 1 is_alarm_set=false; the last 2xx write is #'),
      'user 1: item 2 visited 1 time(s) answered 200, stored 0 time(s): lost',
      'user 1: item 1 stored 2 time(s), asked 1 time(s) (1 answered 200): doubled',
    ]);
  });

  test('a write that got no answer after the last acknowledged one may be the final state', () => {
    const history = [set(1, [0, 10]), clear(1, [20, 5020], 0, { noAnswer: 'timeout' })];
    expect(convergenceProblems(history, { reads: finalReads([1]), stored: new Map() })).toEqual([]);
    expect(convergenceProblems(history, { reads: finalReads([]), stored: new Map() })).toEqual([]);
  });

  test('a port still answering 503 is not converged', () => {
    expect(convergenceProblems([], { reads: [itemList({}, after, 503)], stored: new Map() })).toEqual([expect.stringContaining('not a plain 200 yet')]);
  });
});
