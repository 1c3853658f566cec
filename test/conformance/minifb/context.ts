/**
 * What every minifb check gets: the client (Bearer tokens, every answer held to the published
 * document and the error envelope), uniquely named people of its own, helpers for the usual
 * requests, and the clean-up of what the API lets a client remove (its posts, and with them their
 * comments, reactions and notifications; accounts cannot be deleted through the API).
 */
import { answerProblem } from '../openapi.ts';
import { published } from '../documents.ts';
import { Client, envelopeProblem, eventually, expectAnswer, type Answer, type CallOptions, type Recorder, type Transport } from '../kit.ts';

export interface MinifbTarget {
  transport: Transport;
  /** An administrator's id and password: the admin section needs them. */
  admin?: { id: string; pw: string };
  /** How long to wait for what happens after an answer (notifications, statistics). */
  waitMs?: number;
}

export interface Person {
  id: string;
  name: string;
  nickname: string | null;
  password: string;
  token: string;
  refresh: string;
}

export const PASSWORD = 'conformance password';
type Profile = { name?: string; nickname?: string | null; bio?: string | null };
export const NO_REACTIONS = { '1': 0, '2': 0, '3': 0, '4': 0, '5': 0 };
export const USER_KEYS = ['bio', 'createdAt', 'id', 'name', 'nickname'];
export const POST_KEYS = ['commentCount', 'content', 'createdAt', 'id', 'modified', 'myReaction', 'owner', 'reactions'];
export const COMMENT_KEYS = ['content', 'createdAt', 'id', 'modified', 'myReaction', 'postId', 'reactions', 'user'];
export const NOTIFICATION_KEYS = ['actor', 'createdAt', 'id', 'postId', 'read', 'type'];
export const MISSING_TOKEN = "Authorization header is missing: send 'Authorization: Bearer <accessToken>'";
export const NOT_ADMIN = 'only an administrator may do this';
export const forbidden = (method: string, path: string) => `You have not permission for '${method} ${path}'`;
export const emoji = (n: number) => '🙂'.repeat(n);
export const keysOf = (value: object) => Object.keys(value).sort();

/** What is wrong with an answer whatever the check asked: a 5xx, a broken document, an error without its envelope. */
export function minifbProblem(answer: Answer): string | null {
  if (answer.status >= 500) return `a ${answer.status}: the server failed`;
  const problem = answerProblem(published('minifb'), { method: answer.request.method, path: answer.request.path, status: answer.status, body: answer.body });
  if (problem) return problem;
  // A browser that asked for a page (the dashboard) may get one, whatever the status.
  const page = (answer.request.headers.accept ?? '').includes('text/html') && typeof answer.body === 'string';
  return answer.status >= 400 && !page ? envelopeProblem(answer.status, answer.body) : null;
}

/**
 * The people every run has, and their profiles (names in payloads are checked against these).
 * Only `editor` changes a profile (its own nickname and bio, which no check reads elsewhere);
 * `keeper` is refused changes that must not happen.
 */
const CAST = {
  alice: { name: 'Alice', nickname: 'ally' },
  bob: { name: 'Bob', nickname: null },
  carol: { name: 'Carol', nickname: null },
  writer: { name: 'Writer', nickname: null },
  other: { name: 'Other', nickname: 'oth' },
  editor: { name: 'Editor', nickname: null },
  keeper: { name: 'Keeper', nickname: null },
  marked: { name: 'Marked', nickname: null },
  marker: { name: 'Marker', nickname: null },
} as const;
export type Role = keyof typeof CAST;

export class MinifbContext {
  readonly client: Client;
  readonly recorder: Recorder;
  readonly waitMs: number;
  readonly admin?: { id: string; pw: string };
  /** Unique to this run: every id the kit makes holds it. */
  readonly tag = Array.from(crypto.getRandomValues(new Uint8Array(5)), (b) => 'abcdefghijklmnopqrstuvwxyz0123456789'[b % 36]).join('');
  /** Posts the kit made and has not deleted: id → the owner's token. */
  readonly posts = new Map<number, string>();
  private n = 0;
  private readonly people = new Map<string, Promise<Person>>();

  constructor(target: MinifbTarget) {
    this.waitMs = target.waitMs ?? 10_000;
    this.admin = target.admin;
    this.client = new Client(target.transport, {
      auth: (token) => ({ authorization: `Bearer ${token}` }),
      inspect: minifbProblem,
      observe: (answer) => this.note(answer),
    });
    this.recorder = this.client.recorder;
  }

  call(method: string, path: string, options?: CallOptions) {
    return this.client.call(method, path, options);
  }

  /** A new id of this run: `label`, the run's tag, a counter (4 to 50 characters). */
  id(label = 'u'): string {
    return `${label}${this.tag}${++this.n}`.slice(-50);
  }

  /** A new id of exactly `length` characters (4 to 50). */
  idOfLength(length: number): string {
    const unique = `${this.tag}${(++this.n).toString(36)}`;
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    if (length >= unique.length) return unique.padStart(length, 'x');
    return Array.from(crypto.getRandomValues(new Uint8Array(length)), (b) => alphabet[b % alphabet.length]).join('');
  }

  /**
   * A person of this run who plays `role` in every check that needs one: they post, comment and
   * react, but no check changes their profile or password (those take a new `person()`).
   */
  cast(role: Role): Promise<Person> {
    let person = this.people.get(role);
    if (!person) {
      person = this.person(CAST[role], role);
      this.people.set(role, person);
      // A failed sign-up is the failure of the check that asked first, not of every later one.
      person.catch(() => this.people.delete(role));
    }
    return person;
  }

  /** Signs a new person up and logs them in. */
  async person(profile: Profile = {}, label = 'u'): Promise<Person> {
    const { id, name } = await this.account(profile, label);
    const { accessToken, refreshToken } = await this.login(id);
    return { id, name, nickname: profile.nickname ?? null, password: PASSWORD, token: accessToken, refresh: refreshToken };
  }

  /** Signs a new person up, without logging in (a password hash less, for someone who only has to exist). */
  async account(profile: Profile = {}, label = 'u'): Promise<{ id: string; name: string }> {
    const id = this.id(label);
    const name = profile.name ?? `Person ${this.n}`.slice(0, 16);
    expectAnswer(await this.call('POST', '/signup', { body: { id, pw: PASSWORD, name, ...profile } }), 201);
    return { id, name };
  }

  async login(id: string, pw = PASSWORD): Promise<{ accessToken: string; refreshToken: string; passwordChangeRequired: boolean }> {
    return expectAnswer(await this.call('POST', '/auth', { body: { id, pw } }), 200).body;
  }

  async adminToken(): Promise<string> {
    if (!this.admin) throw new Error('the admin checks need --admin-id and --admin-password');
    return (await this.login(this.admin.id, this.admin.pw)).accessToken;
  }

  async post(by: Person, content = `post ${++this.n}`) {
    return expectAnswer(await this.call('POST', '/post', { token: by.token, body: { content } }), 201).body;
  }

  async comment(by: Person, postId: number, content = `comment ${++this.n}`) {
    return expectAnswer(await this.call('POST', `/post/${postId}/comment`, { token: by.token, body: { content } }), 201).body;
  }

  react(by: Person, target: string, type: unknown) {
    return this.call('POST', `${target}/reaction`, { token: by.token, body: { type } });
  }

  /** The id of a post that existed and was deleted: one that surely names nothing now. */
  async deletedPostId(by: Person): Promise<number> {
    const { id } = await this.post(by);
    expectAnswer(await this.call('DELETE', `/post/${id}`, { token: by.token }), 200);
    return id;
  }

  async notifications(of: Person, query = '') {
    return expectAnswer(await this.call('GET', `/notification${query}`, { token: of.token }), 200).body;
  }

  /** Waits until `of` has `count` notifications. */
  settled(of: Person, count: number) {
    return eventually(async () => (await this.notifications(of)).items.length === count, this.waitMs, `${of.id} having ${count} notifications`);
  }

  /**
   * Lets everything sent so far be handled, so that "no notification" means none: a marker
   * comment by someone else, waited for until it is notified.
   */
  async quiet() {
    const [owner, other] = [await this.cast('marked'), await this.cast('marker')];
    this.markedPost ??= this.post(owner, 'marked post').then(
      (p) => p.id as number,
      (error) => {
        this.markedPost = undefined;
        throw error;
      },
    );
    const postId = await this.markedPost;
    const before = (await this.notifications(owner)).unreadCount;
    await this.comment(other, postId, 'marker');
    await this.wait(async () => (await this.notifications(owner)).unreadCount === before + 1, 'the marker comment notified');
  }
  private markedPost?: Promise<number>;

  wait<T>(probe: () => Promise<T>, what: string) {
    return eventually(probe, this.waitMs, what);
  }

  /** Deletes every post the kit made and did not delete (its comments, reactions and notifications go with it); their ids. */
  async cleanUp(): Promise<number[]> {
    const deleted: number[] = [];
    for (const [id, token] of [...this.posts]) {
      const res = await this.call('DELETE', `/post/${id}`, { token }).catch(() => undefined);
      if (res?.status === 200) deleted.push(id);
      this.posts.delete(id);
    }
    return deleted;
  }

  private note({ request, status, body }: Answer) {
    const token = request.headers.authorization?.replace(/^Bearer /i, '');
    if (request.method === 'POST' && request.path === '/post' && status === 201 && token) this.posts.set(body.id, token);
    const deleted = /^\/post\/(\d+)$/.exec(request.path);
    if (request.method === 'DELETE' && deleted && status === 200) this.posts.delete(Number(deleted[1]));
  }
}
