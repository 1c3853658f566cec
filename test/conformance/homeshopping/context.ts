/**
 * What every homeshopping check gets: a client per API (USER-TOKEN, every answer held to that
 * API's published document and the error rules), the items and users the server lists, and
 * users of its own. The contract has no way to add users, so the kit borrows the listed ones
 * (`GET /` on the user API shows their tokens): each borrowed user's alarms are cleared for the
 * check and put back as they were at the end. Visits cannot be removed; the visit checks hold
 * whatever history a user had.
 */
import { published, type Published } from '../documents.ts';
import { Client, envelopeProblem, expectAnswer, Recorder, type Answer, type CallOptions, type Transport } from '../kit.ts';
import { answerProblem, templateOf } from '../openapi.ts';

export type Api = 'item' | 'alarm' | 'user';

export interface ShopTarget {
  item: Transport;
  alarm: Transport;
  user: Transport;
  /** A user's USER-TOKEN: the kit's own calls, and the way to the user list. */
  token: string;
}

export interface Item {
  id: number;
  name: string;
  broadcaster: string;
  category: string | null;
  price: number;
}

export interface User {
  id: number;
  name: string;
  access_token: string;
}

export const ITEM_KEYS = ['broadcaster', 'category', 'id', 'name', 'price'];
export const NOT_A_TOKEN = '00000000-0000-4000-8000-000000000000';

/** What is wrong with an answer whatever the check asked: a 5xx, a broken document, an error outside the rules. */
function shopProblem(api: Api, answer: Answer): string | null {
  if (answer.status >= 500) return `a ${answer.status}: the server failed`;
  const doc = published(api as Published);
  const problem = answerProblem(doc, { method: answer.request.method, path: answer.request.path, status: answer.status, body: answer.body });
  if (problem) return problem;
  // The spec'd 404s are `{}`: where the document declares a 404, its schema has just held it.
  const template = templateOf(doc, answer.request.path);
  const declared404 = answer.status === 404 && template !== undefined && doc.paths[template]?.[answer.request.method.toLowerCase()]?.responses?.['404'] !== undefined;
  return answer.status >= 400 && !declared404 ? envelopeProblem(answer.status, answer.body) : null;
}

export class ShopContext {
  readonly recorder = new Recorder();
  readonly item: Client;
  readonly alarm: Client;
  readonly user: Client;
  readonly token: string;
  /** Users lent to checks: their token → the item ids they had alarms on before. */
  private readonly borrowed = new Map<string, number[]>();
  private listed?: Promise<{ items: Item[]; users: User[] }>;

  constructor(target: ShopTarget) {
    this.token = target.token;
    const client = (api: Api) =>
      new Client(target[api], { api, recorder: this.recorder, auth: (token) => ({ 'USER-TOKEN': token }), inspect: (answer) => shopProblem(api, answer) });
    this.item = client('item');
    this.alarm = client('alarm');
    this.user = client('user');
  }

  /** `api` `method` `path` as the kit's user, unless `token` says otherwise (null: no USER-TOKEN). */
  call(api: Api, method: string, path: string, options: CallOptions = {}) {
    return this[api].call(method, path, { ...options, token: options.token === undefined ? this.token : options.token });
  }

  /** The items and users the server lists, read once: items id descending, users id descending. */
  data() {
    this.listed ??= (async () => {
      const items = expectAnswer(await this.call('item', 'GET', '/'), 200).body.payload as Item[];
      const users = expectAnswer(await this.call('user', 'GET', '/'), 200).body.payload as User[];
      if (items.length < 12) throw new Error(`the kit needs at least 12 items; the item API lists ${items.length}`);
      return { items: items.map(({ id, name, broadcaster, category, price }) => ({ id, name, broadcaster, category, price })), users };
    })();
    return this.listed;
  }

  /** The `n`-th listed item (0 is the newest id). */
  async itemAt(n: number): Promise<Item> {
    const { items } = await this.data();
    return items[n % items.length]!;
  }

  /** An id no item has: one more than the largest. */
  async unknownItemId(): Promise<number> {
    return Math.max(...(await this.data()).items.map((i) => i.id)) + 1;
  }

  /** The token of a listed user no check has had yet (not the kit's own), alarms cleared. */
  async borrow(): Promise<string> {
    const { users } = await this.data();
    const next = users.find((u) => u.access_token !== this.token && !this.borrowed.has(u.access_token));
    if (!next) throw new Error(`the kit needs more users than the ${users.length} the user API lists`);
    const token = next.access_token;
    const had = await this.alarmIds(token);
    this.borrowed.set(token, had);
    for (const id of had) expectAnswer(await this.setAlarm('DELETE', id, token), 200);
    return token;
  }

  setAlarm(method: 'POST' | 'DELETE', itemId: unknown, token: string) {
    return this.call('alarm', method, '/', { token, body: { item_id: itemId } });
  }

  async alarmIds(token: string): Promise<number[]> {
    return expectAnswer(await this.call('alarm', 'GET', '/', { token }), 200).body.payload.map((i: Item) => i.id);
  }

  async view(token: string, ...ids: number[]) {
    for (const id of ids) expectAnswer(await this.call('item', 'GET', `/${id}`, { token }), 200);
  }

  async visits(token: string) {
    return expectAnswer(await this.call('user', 'GET', '/visit', { token }), 200).body;
  }

  async visitIds(token: string): Promise<number[]> {
    return (await this.visits(token)).payload.map((i: Item) => i.id);
  }

  /** Puts every borrowed user's alarms back as they were; how many users it restored. */
  async cleanUp(): Promise<number> {
    for (const [token, had] of this.borrowed) {
      const now = await this.alarmIds(token);
      for (const id of now.filter((id) => !had.includes(id))) await this.setAlarm('DELETE', id, token);
      for (const id of had.filter((id) => !now.includes(id))) await this.setAlarm('POST', id, token);
    }
    const restored = this.borrowed.size;
    this.borrowed.clear();
    return restored;
  }
}
