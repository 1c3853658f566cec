/**
 * The fault suite's checker (issue 21): pure functions over a recorded history of requests — who
 * asked what of which port, when it started and was answered (performance.now(), ms), the status,
 * whether the answer was marked `X-Consistency: local`, and what a read showed. No clock, no I/O:
 * the same history always gives the same verdict, and each rule is tested on synthetic histories
 * (checker.test.ts).
 *
 * The rules (ARCHITECTURE.md, "Read-your-writes" and "When something is dead"):
 *
 * 1. **Answers** — every request is answered within 2 s, with the contract's status or a 503; a
 *    request that got no answer (timed out, connection closed) fails, unless its process was
 *    stopped or dead meanwhile (an *outage* the scenario declares: nothing can answer then).
 * 2. **Read-your-writes, unless marked** — an alarm write answered 2xx without the mark is seen by
 *    every unmarked read that started after that answer, on any port; a 503 read is always
 *    allowed. Per key (user, item): a read may show the value of the last unmarked 2xx write
 *    acknowledged before it started, or of any write not so acknowledged that started before the
 *    read ended and is not overtaken by an acknowledged one (in flight, 503 — "saved but not
 *    confirmed" —, no answer, or marked: each may show or not).
 * 3. **Visits seen** — an unmarked 200 `GET /{item}` shows in every unmarked `GET /visit` of that
 *    user started after its answer: as the newest entry, or (when another visit of the user was
 *    in flight or came later) among the entries; with every earlier visit known and none
 *    overlapping, the whole list is the contract's (newest first, consecutive repeats collapsed,
 *    at most 3).
 * 4. **Converged, nothing lost or doubled** — after healing every port shows, for every key, the
 *    value of the last 2xx write (marked or not) or of a later unanswered one, all ports alike;
 *    every visit answered 200 is stored, none more often than it was asked for.
 *
 * What a read shows: `GET /` on 5001 is_alarm_set of every item; `GET /{item}` its is_alarm_set;
 * `GET /` on 6001 the alarms the user has (an item not listed has none); `GET /visit` the
 * is_alarm_set of each item listed.
 */

export type Kind = 'alarm POST' | 'alarm DELETE' | 'item list' | 'item detail' | 'alarm list' | 'visit list';
/** The contract's port of each API (the test's processes listen elsewhere; messages use these). */
export type Port = 5001 | 6001 | 7001;

export const PORT_OF: Record<Kind, Port> = {
  'alarm POST': 6001,
  'alarm DELETE': 6001,
  'item list': 5001,
  'item detail': 5001,
  'alarm list': 6001,
  'visit list': 7001,
};
const REQUEST_LINE: Record<Kind, string> = {
  'alarm POST': 'POST /',
  'alarm DELETE': 'DELETE /',
  'item list': 'GET /',
  'item detail': 'GET /{item}',
  'alarm list': 'GET /',
  'visit list': 'GET /visit',
};
/** The status the contract answers each kind with when it succeeds. */
const SUCCESS: Record<Kind, number> = { 'alarm POST': 201, 'alarm DELETE': 200, 'item list': 200, 'item detail': 200, 'alarm list': 200, 'visit list': 200 };

export interface Request {
  /** Its place in the history (`#seq` in messages). */
  seq: number;
  kind: Kind;
  user: number;
  /** The item written, or shown by `GET /{item}`. */
  item?: number;
  start: number;
  end: number;
  /** 0: no answer. */
  status: number;
  /** Why there was no answer: the client gave up after its timeout, or the connection closed. */
  noAnswer?: 'timeout' | 'closed';
  /** An answer that broke the contract otherwise (the harness's check), in words. */
  broken?: string;
  /** Answered `X-Consistency: local`: the service vouches only for its own process's view. */
  marked: boolean;
  /** What a 200 read showed: is_alarm_set by item id. */
  alarms?: Record<number, boolean>;
  /** `alarms` lists every alarm the user has (6001's list): an item not in it has none. */
  complete?: boolean;
  /** A `GET /visit`: the item ids listed, newest first. */
  visits?: number[];
}

/** A time a process could not answer at all (stopped, killed): requests to its port then are excused from rule 1. */
export interface Outage {
  port: Port;
  from: number;
  to: number;
}

export type Rule = 'answers' | 'read-your-writes' | 'visits seen' | 'converged';

export interface Violation {
  rule: Rule;
  /** When it shows (the offending request's start), for ordering. */
  at: number;
  message: string;
}

export const MAX_ANSWER_MS = 2000;

// ---------------------------------------------------------------------------------------------
// How requests are named in messages.

const seconds = (ms: number, t0: number) => (Number.isFinite(ms) ? ((ms - t0) / 1000).toFixed(3) : 'never');

/** `#812 GET / on 5001 (user 3) 12.345–12.401 s → 200`, times from `t0`. */
export function describeRequest(r: Request, t0 = 0): string {
  const who = r.item === undefined ? `user ${r.user}` : `user ${r.user}, item ${r.item}`;
  const outcome = r.status ? `${r.status}${r.marked ? ' marked local' : ''}` : `no answer (${r.noAnswer ?? 'closed'})`;
  return `#${r.seq} ${REQUEST_LINE[r.kind]} on ${PORT_OF[r.kind]} (${who}) ${seconds(r.start, t0)}–${seconds(r.end, t0)} s → ${outcome}`;
}

const isWrite = (r: Request) => r.kind === 'alarm POST' || r.kind === 'alarm DELETE';
const is2xx = (r: Request) => r.status >= 200 && r.status < 300;
const unmarked2xx = (r: Request) => is2xx(r) && !r.marked;
/** A write refused (4xx) changed nothing; any other may have. */
const mayHaveApplied = (r: Request) => !(r.status >= 400 && r.status < 500);
/** The latest a request may take effect: its answer; never, for one the client stopped waiting for (the server may go on). */
const effectUntil = (r: Request) => (r.status === 0 && r.noAnswer === 'timeout' ? Infinity : r.end);

// ---------------------------------------------------------------------------------------------
// Rule 1: answers.

/** What breaks rule 1 in `r`'s answer, if anything; `excused`: its process could not answer meanwhile. */
function answerProblem(r: Request, excused: boolean): string | undefined {
  if (r.broken !== undefined) return `broke the contract: ${r.broken}`;
  if (r.status === 0) return excused ? undefined : 'is unanswered: every request must be answered';
  if (r.status !== SUCCESS[r.kind] && r.status !== 503) return `is neither the contract's ${SUCCESS[r.kind]} nor a 503`;
  const ms = r.end - r.start;
  if (ms > MAX_ANSWER_MS && !excused) return `took ${Math.round(ms)} ms (over ${MAX_ANSWER_MS})`;
  return undefined;
}

export function answers(history: Request[], outages: Outage[] = [], t0 = 0): Violation[] {
  const excused = (r: Request) => outages.some((o) => o.port === PORT_OF[r.kind] && r.start < o.to && r.end > o.from);
  const out: Violation[] = [];
  for (const r of history) {
    const problem = answerProblem(r, excused(r));
    if (problem) out.push({ rule: 'answers', at: r.start, message: `${describeRequest(r, t0)} ${problem}` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Alarm state: what a read may show.

const keyOf = (user: number, item: number) => `${user}:${item}`;

/** The alarm writes of the history that may have changed something, by key. */
function writesByKey(history: Request[]): Map<string, Request[]> {
  const by = new Map<string, Request[]>();
  for (const w of history) {
    if (!isWrite(w) || !mayHaveApplied(w)) continue;
    const key = keyOf(w.user, w.item!);
    by.set(key, [...(by.get(key) ?? []), w]);
  }
  return by;
}

export interface Allowed {
  values: Set<boolean>;
  /** The last binding write acknowledged before the read started (none: the initial state, no alarm). */
  last?: Request;
}

/**
 * The values a read of one key during [start, end] may show, given the key's writes; `binds` says
 * which acknowledged writes every later read must see (unmarked 2xx for reads; any 2xx at the end).
 * The initial state (no alarm) counts as a binding write before everything.
 */
export function mayShow(writes: Request[], read: { start: number; end: number }, binds: (w: Request) => boolean): Allowed {
  const bound = writes.filter((w) => binds(w) && w.end < read.start);
  /** A write acknowledged before the read that started after `t`: what took effect by `t` is overwritten. */
  const overtaken = (t: number) => bound.some((b) => b.start > t);
  const values = new Set<boolean>();
  if (!overtaken(-Infinity)) values.add(false);
  for (const w of writes) if (w.start < read.end && !overtaken(effectUntil(w))) values.add(w.kind === 'alarm POST');
  const last = bound.reduce<Request | undefined>((a, b) => (!a || b.end > a.end ? b : a), undefined);
  return { values, last };
}

/** Every (item, is_alarm_set) a 200 read showed; `written` lists the user's written items (for a complete list). */
function shown(read: Request, written: Iterable<number>): [number, boolean][] {
  const pairs = Object.entries(read.alarms ?? {}).map(([item, set]): [number, boolean] => [Number(item), set]);
  if (read.complete) for (const item of written) if (!(item in (read.alarms ?? {}))) pairs.push([item, false]);
  return pairs;
}

const showValues = (values: Set<boolean>) => [...values].join(' or ');

/** Why `value` is not what `allowed` permits, naming the write it contradicts. */
function contradiction(value: boolean, allowed: Allowed, t0: number): string {
  if (!allowed.last) return `no write could have made it ${value} (may show: ${showValues(allowed.values)})`;
  return `${describeRequest(allowed.last, t0)} was acknowledged before it started (may show: ${showValues(allowed.values)})`;
}

/** The items each user wrote. */
function writtenByUser(history: Request[]): Map<number, Set<number>> {
  const by = new Map<number, Set<number>>();
  for (const w of history) if (isWrite(w)) by.set(w.user, (by.get(w.user) ?? new Set()).add(w.item!));
  return by;
}

// ---------------------------------------------------------------------------------------------
// Rule 2: read-your-writes, unless marked.

export function readYourWrites(history: Request[], t0 = 0): Violation[] {
  const writes = writesByKey(history);
  const written = writtenByUser(history);
  const out: Violation[] = [];
  for (const read of history) {
    if (isWrite(read) || read.status !== 200 || read.marked) continue;
    for (const [item, value] of shown(read, written.get(read.user) ?? [])) {
      const allowed = mayShow(writes.get(keyOf(read.user, item)) ?? [], read, unmarked2xx);
      if (allowed.values.has(value)) continue;
      out.push({ rule: 'read-your-writes', at: read.start, message: `${describeRequest(read, t0)} shows item ${item} is_alarm_set=${value}; ${contradiction(value, allowed, t0)}` });
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rule 3: visits seen.

/** `GET /visit`'s rule over visits oldest first: newest first, consecutive repeats collapsed, at most 3. */
export function recentVisits(items: number[]): number[] {
  const out: number[] = [];
  for (let i = items.length - 1; i >= 0 && out.length < 3; i--) if (out[out.length - 1] !== items[i]) out.push(items[i]!);
  return out;
}

/** The `GET /{item}` requests of each user that may have recorded a visit (not refused). */
function visitsByUser(history: Request[]): Map<number, Request[]> {
  const by = new Map<number, Request[]>();
  for (const r of history) if (r.kind === 'item detail' && mayHaveApplied(r)) by.set(r.user, [...(by.get(r.user) ?? []), r]);
  return by;
}

/** Why a `GET /visit` breaks rule 3, if it does, given every visit of its user (`mine`). */
function visitListProblem(read: Request, mine: Request[], t0: number): string | undefined {
  const acknowledged = new Set(mine.filter((v) => v.status === 200 && !v.marked && v.end < read.start));
  if (!acknowledged.size) return undefined;
  const last = [...acknowledged].reduce((a, b) => (b.end > a.end ? b : a));
  // Visits that may be stored after `last`: in flight with it or later, or not vouched for.
  const rivals = mine.filter((v) => v !== last && v.start < read.end && effectUntil(v) > last.start);
  const listed = read.visits ?? [];
  if (rivals.length >= 3) return undefined; // (enough of them to push `last` out of the list)
  if (rivals.length > 0) {
    if (listed.includes(last.item!)) return undefined;
    return `${describeRequest(last, t0)} was answered before it started, and only ${rivals.length} other visit(s) of the user may be newer`;
  }
  if (listed[0] !== last.item) return `${describeRequest(last, t0)} was answered before it started, and no other visit of the user can be newer`;
  // Every visit known and one after another: the whole list is the contract's.
  const before = mine.filter((v) => v.start < read.end);
  const known = before.every((v) => acknowledged.has(v));
  const sequential = before.every((v, i) => i === 0 || before[i - 1]!.end < v.start);
  const expected = recentVisits(before.map((v) => v.item!));
  if (known && sequential && listed.join() !== expected.join()) return `the user's visits so far (each answered 200, one after another) make [${expected.join(', ')}]`;
  return undefined;
}

export function visitsSeen(history: Request[], t0 = 0): Violation[] {
  const visits = visitsByUser(history);
  const out: Violation[] = [];
  for (const read of history) {
    if (read.kind !== 'visit list' || read.status !== 200 || read.marked) continue;
    const problem = visitListProblem(read, visits.get(read.user) ?? [], t0);
    if (problem) out.push({ rule: 'visits seen', at: read.start, message: `${describeRequest(read, t0)} lists [${read.visits?.join(', ')}]; ${problem}` });
  }
  return out;
}

/** Rules 1 to 3 over a whole history, in the order they show. */
export function check(history: Request[], { outages = [], t0 = 0 }: { outages?: Outage[]; t0?: number } = {}): Violation[] {
  return [...answers(history, outages, t0), ...readYourWrites(history, t0), ...visitsSeen(history, t0)].sort((a, b) => a.at - b.at);
}

// ---------------------------------------------------------------------------------------------
// Rule 4: converged, nothing lost or doubled.

export interface FinalState {
  /** Reads made after the load stopped: each user's `GET /` on 5001, `GET /` on 6001, `GET /visit`. */
  reads: Request[];
  /** The visits stored in the user database, each user's item ids oldest first (by visit id). */
  stored: Map<number, number[]>;
}

const FINAL = { start: Infinity, end: Infinity };

/** What still differs from the model the history makes, in words; none when every port agrees with it. */
export function convergenceProblems(history: Request[], final: FinalState, t0 = 0): string[] {
  const answered = final.reads.filter((r) => r.status === 200 && !r.marked);
  return [
    ...final.reads.filter((r) => !answered.includes(r)).map((r) => `${describeRequest(r, t0)}: not a plain 200 yet`),
    ...finalAlarmProblems(history, answered, t0),
    ...[...visitsByUser(history)].flatMap(([user, mine]) => storedVisitProblems(user, mine, final.stored.get(user) ?? [])),
    ...answered.filter((r) => r.kind === 'visit list').flatMap((read) => {
      const expected = recentVisits(final.stored.get(read.user) ?? []);
      return (read.visits ?? []).join() === expected.join() ? [] : [`${describeRequest(read, t0)} lists [${read.visits?.join(', ')}], the stored visits make [${expected.join(', ')}]`];
    }),
  ];
}

/** Each key as every final read shows it: the last 2xx write's value (or a later unanswered one's), the same on every port. */
function finalAlarmProblems(history: Request[], reads: Request[], t0: number): string[] {
  const writes = writesByKey(history);
  const written = writtenByUser(history);
  const problems: string[] = [];
  const first = new Map<string, { value: boolean; read: Request }>();
  for (const read of reads) {
    for (const [item, value] of shown(read, written.get(read.user) ?? [])) {
      const key = keyOf(read.user, item);
      const allowed = mayShow(writes.get(key) ?? [], FINAL, is2xx);
      if (!allowed.values.has(value)) {
        const last = allowed.last ? `the last 2xx write is ${describeRequest(allowed.last, t0)}` : 'no write could have made it so';
        problems.push(`${describeRequest(read, t0)} shows item ${item} is_alarm_set=${value}; ${last} (may show: ${showValues(allowed.values)})`);
      }
      const other = first.get(key);
      if (!other) first.set(key, { value, read });
      else if (other.value !== value) problems.push(`ports disagree on user ${read.user}'s item ${item}: ${describeRequest(other.read, t0)} shows ${other.value}, ${describeRequest(read, t0)} shows ${value}`);
    }
  }
  return problems;
}

/** Every visit answered 200 stored, and none more often than asked for, per item. */
function storedVisitProblems(user: number, visits: Request[], stored: number[]): string[] {
  const problems: string[] = [];
  for (const item of new Set([...visits.map((v) => v.item!), ...stored])) {
    const asked = visits.filter((v) => v.item === item);
    const answered = asked.filter((v) => v.status === 200).length;
    const count = stored.filter((i) => i === item).length;
    if (count < answered) problems.push(`user ${user}: item ${item} visited ${answered} time(s) answered 200, stored ${count} time(s): lost`);
    if (count > asked.length) problems.push(`user ${user}: item ${item} stored ${count} time(s), asked ${asked.length} time(s) (${answered} answered 200): doubled`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// The figures a scenario reports.

export interface Summary {
  writes: number;
  reads: number;
  unavailable: number;
  marked: number;
  noAnswer: number;
  maxMs: number;
  /** The slowest 503 (a fault is to be told within a second). */
  max503Ms: number;
}

export function summarize(history: Request[]): Summary {
  const answered = history.filter((r) => r.status !== 0);
  return {
    writes: history.filter(isWrite).length,
    reads: history.filter((r) => !isWrite(r)).length,
    unavailable: history.filter((r) => r.status === 503).length,
    marked: history.filter((r) => r.marked).length,
    noAnswer: history.length - answered.length,
    maxMs: Math.round(history.reduce((m, r) => Math.max(m, r.end - r.start), 0)),
    max503Ms: Math.round(history.reduce((m, r) => (r.status === 503 ? Math.max(m, r.end - r.start) : m), 0)),
  };
}
