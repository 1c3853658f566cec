/**
 * The fault suite's load and what it records (issue 21): users writing and reading the
 * homeshopping APIs while a scenario breaks things, every request kept as the checker reads it
 * (test/support/checker.ts) — its kind, user, item, start and end (performance.now()), status,
 * the `X-Consistency` mark, and what a read showed.
 */
import { urlTransport } from '../conformance/kit.ts';
import type { Kind, Outage, Request } from './checker.ts';
import { NoAnswer, type ApiClient } from './client.ts';
import { shopClient, type ShopApi } from './shop.ts';
import { eventually } from './split.ts';

/** How long a client waits for an answer before it records none. */
export const CLIENT_TIMEOUT_MS = 5000;

/** The three APIs as the load drives them: the harness's clients (every answer checked against the port's document), each request given up after CLIENT_TIMEOUT_MS. */
export function loadClients(base: (api: ShopApi) => string): Record<ShopApi, ApiClient> {
  const client = (api: ShopApi) =>
    shopClient(api, (request) => urlTransport(base(api))(new Request(request, { signal: AbortSignal.timeout(CLIENT_TIMEOUT_MS) })), { faults: true });
  return { item: client('item'), alarm: client('alarm'), user: client('user') };
}

/** The request each kind is. */
const SENT: Record<Kind, { api: ShopApi; method: string; path: (item?: number) => string; withItem?: boolean }> = {
  'alarm POST': { api: 'alarm', method: 'POST', path: () => '/', withItem: true },
  'alarm DELETE': { api: 'alarm', method: 'DELETE', path: () => '/', withItem: true },
  'item list': { api: 'item', method: 'GET', path: () => '/' },
  'item detail': { api: 'item', method: 'GET', path: (item) => `/${item}` },
  'alarm list': { api: 'alarm', method: 'GET', path: () => '/' },
  'visit list': { api: 'user', method: 'GET', path: () => '/visit' },
};

type Listed = { id: number; is_alarm_set?: boolean }[];
const alarmsOf = (payload: Listed) => Object.fromEntries(payload.map((i) => [i.id, i.is_alarm_set!]));

/** What a 200 read showed, as the checker compares it. */
function shows(kind: Kind, item: number | undefined, body: any): Pick<Request, 'alarms' | 'complete' | 'visits'> {
  switch (kind) {
    case 'item list':
      return { alarms: alarmsOf(body.payload) };
    case 'item detail':
      return { alarms: { [item!]: body.payload.is_alarm_set } };
    case 'alarm list':
      return { alarms: Object.fromEntries((body.payload as Listed).map((i) => [i.id, true])), complete: true };
    case 'visit list':
      return { visits: (body.payload as Listed).map((i) => i.id), alarms: alarmsOf(body.payload) };
    default:
      return {};
  }
}

/** A scenario's record: the requests of its load, and the outages it caused. */
export class History {
  readonly t0 = performance.now();
  readonly requests: Request[] = [];
  readonly outages: Outage[] = [];
  private seq = 0;

  constructor(
    private readonly clients: Record<ShopApi, ApiClient>,
    private readonly tokens: Map<number, string>,
  ) {}

  /** Sends one request as `user` and records it. */
  async record(kind: Kind, user: number, item?: number): Promise<Request> {
    const request = await this.send(kind, user, item);
    this.requests.push(request);
    return request;
  }

  /** Sends one request as `user`; the record is returned, not kept (the reads that look for convergence). */
  async send(kind: Kind, user: number, item?: number): Promise<Request> {
    const { api, method, path, withItem } = SENT[kind];
    const seq = ++this.seq;
    const start = performance.now();
    const base = { seq, kind, user, item, start, marked: false };
    try {
      const answer = await this.clients[api].call(method, path(item), { token: this.tokens.get(user)!, body: withItem ? { item_id: item } : undefined });
      const marked = answer.headers.get('x-consistency')?.trim().toLowerCase() === 'local';
      return { ...base, end: performance.now(), status: answer.status, marked, ...(answer.status === 200 ? shows(kind, item, answer.body) : {}) };
    } catch (error) {
      const end = performance.now();
      if (error instanceof NoAnswer) return { ...base, end, status: 0, noAnswer: end - start >= CLIENT_TIMEOUT_MS - 50 ? 'timeout' : 'closed' };
      return { ...base, end, status: 0, broken: (error as Error).message.split('\n')[0] };
    }
  }

  /** Requests recorded that started at `from` or later. */
  since(from: number): number {
    return this.requests.filter((r) => r.start >= from).length;
  }
}

/** A user of the load: each worker writes its own items (and reads all the user's). */
export interface LoadUser {
  id: number;
  workers: number[][];
}

const READS: Kind[] = ['item list', 'item detail', 'alarm list', 'visit list'];
const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)]!;
/** A pause between a worker's rounds: a steady load, not a flood, on a busy 2-core machine. */
const PACE_MS = 40;

/**
 * Each worker in turn: flips an alarm of one of its items (set when it last cleared it), then
 * makes two reads of random kinds (the item detail of one of the user's items), then pauses —
 * and after a request that got no answer (a process down refuses at once), as a client backs off.
 */
export function startLoad(history: History, users: LoadUser[]) {
  let running = true;
  const worker = async (user: LoadUser, items: number[]) => {
    const set = new Map<number, boolean>();
    const all = user.workers.flat();
    const send = async (kind: Kind, item?: number) => {
      if ((await history.record(kind, user.id, item)).status === 0) await Bun.sleep(PACE_MS);
    };
    while (running) {
      const item = pick(items);
      set.set(item, !set.get(item));
      await send(set.get(item) ? 'alarm POST' : 'alarm DELETE', item);
      for (let i = 0; i < 2 && running; i++) {
        const kind = pick(READS);
        await send(kind, kind === 'item detail' ? pick(all) : undefined);
      }
      await Bun.sleep(PACE_MS);
    }
  };
  const workers = users.flatMap((u) => u.workers.map((items) => worker(u, items)));
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

/**
 * Lets `ms` pass — a fault's length, or the load's before and after one — and as long again as
 * it takes the load to make `requests` requests in it (a busy machine may run it slowly).
 */
export async function under(history: History, ms: number, requests = 30) {
  const from = performance.now();
  await eventually(() => performance.now() - from >= ms && history.since(from) >= requests, ms + 60000, `${requests} requests of load in ${ms} ms`);
}
