/**
 * The machinery both conformance kits share: one HTTP client that keeps what it sent, checks as
 * data (a section, a name, a function), the failures that name the request and the answer, a
 * runner, and the two reports (a line per check, JUnit XML). Nothing here knows our
 * implementation: a kit drives any server over HTTP, or any `(Request) => Response` handler.
 */

import { STATUS_CODES } from 'node:http';

/** Sends one request; a base URL (`urlTransport`) or an in-process handler. */
export type Transport = (request: Request) => Promise<Response>;

/** `base` + the request's path: http://host:8000 or http://host/prefix alike. */
export function urlTransport(base: string): Transport {
  const root = base.replace(/\/+$/, '');
  return (request) => {
    const url = new URL(request.url);
    return fetch(new Request(`${root}${url.pathname}${url.search}`, request), { redirect: 'manual' });
  };
}

export interface Sent {
  /** Which API it went to, when a kit drives several (`item`, `alarm`, `user`). */
  api?: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface Answer {
  request: Sent;
  status: number;
  /** The parsed JSON, or the text when the answer is not JSON. */
  body: any;
  text: string;
  headers: Headers;
}

export interface CallOptions {
  /** JSON-encoded unless `raw` is given. */
  body?: unknown;
  /** The body exactly as sent (malformed JSON, an empty string). */
  raw?: string;
  /** The caller's credential; the kit's client decides the header it goes in. */
  token?: string | null;
  headers?: Record<string, string>;
}

/** A check did not hold: what was expected, and the exchange that showed it. */
export class CheckFailure extends Error {
  constructor(
    message: string,
    readonly answer?: Answer,
  ) {
    super(message);
  }
}

/** The answers a check got: how many, and the last (several clients may share one). */
export class Recorder {
  count = 0;
  last: Answer | undefined;
}

export interface ClientOptions {
  /** The API's name in reports, when a kit drives several. */
  api?: string;
  recorder?: Recorder;
  /** The headers that carry a token (`Authorization: Bearer …`, `USER-TOKEN: …`). */
  auth(token: string): Record<string, string>;
  /** What is wrong with an answer whatever the check wanted (undeclared status, broken schema, no envelope). */
  inspect(answer: Answer): string | null | Promise<string | null>;
  /** Told of every answer (the kits note what they created, to clean it up). */
  observe?(answer: Answer): void;
}

/** The one client shape of both kits. Every answer is inspected against the contract as it arrives. */
export class Client {
  /** What this client answered, for failures about a value derived from several answers. */
  readonly recorder: Recorder;

  constructor(
    private readonly transport: Transport,
    private readonly options: ClientOptions,
  ) {
    this.recorder = options.recorder ?? new Recorder();
  }

  async call(method: string, path: string, options: CallOptions = {}): Promise<Answer> {
    // A token given is sent, an empty one too (a client's mistake the server must refuse).
    const token = options.token === undefined || options.token === null ? {} : this.options.auth(options.token);
    const headers: Record<string, string> = { ...token, ...options.headers };
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    if (body !== undefined) headers['content-type'] ??= 'application/json';
    const request: Sent = { api: this.options.api, method, path, headers, body };
    let res: Response;
    let text: string;
    try {
      res = await this.transport(new Request(`http://conformance.invalid${path}`, { method, headers, body }));
      // An answer cut off before its body is in is no answer either.
      text = await res.text();
    } catch (error) {
      throw new CheckFailure(`${method} ${path} got no answer: ${error instanceof Error ? error.message : error}`);
    }
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('application/json')) {
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new CheckFailure('the answer says it is JSON but does not parse', { request, status: res.status, body: text, text, headers: res.headers });
      }
    }
    const answer: Answer = { request, status: res.status, body: parsed, text, headers: res.headers };
    this.recorder.last = answer;
    this.recorder.count++;
    const problem = await this.options.inspect(answer);
    if (problem) throw new CheckFailure(`against the contract: ${problem}`, answer);
    this.options.observe?.(answer);
    return answer;
  }
}

/** What is wrong with an error body by the shared rule: `{"result": "<status text>", "hint": "<what went wrong>"}`. */
export function envelopeProblem(status: number, body: unknown): string | null {
  const keys = body !== null && typeof body === 'object' ? Object.keys(body).sort().join() : '';
  if (keys !== 'hint,result') return 'an error must be {"result", "hint"}';
  const { result, hint } = body as { result: unknown; hint: unknown };
  if (result !== STATUS_CODES[status]) return `"result" must be the status text "${STATUS_CODES[status]}"`;
  if (typeof hint !== 'string' || hint.length === 0) return '"hint" must say what went wrong';
  return null;
}

// ---------------------------------------------------------------------------------------------
// Expectations. Each throws a CheckFailure naming the answer it is about.

const show = (value: unknown) => (value === undefined ? 'undefined' : JSON.stringify(value));

/** A predicate where a value is expected: `{ id: anyInteger }`; `label` says it in a failure. */
export type Matcher = ((value: unknown) => boolean) & { label: string };
export const matcher = (label: string, test: (value: unknown) => boolean): Matcher => Object.assign(test, { label });
export const anyString = matcher('any string', (v) => typeof v === 'string');
export const anyInteger = matcher('any integer', (v) => Number.isInteger(v));
export const dateTime = matcher('an RFC 3339 date-time', (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && /^\d{4}-\d\d-\d\dT/.test(v));

/**
 * Where `actual` differs from `expected`, or null. Arrays are matched whole; objects on the keys
 * expected only, unless `exact` (then no other key may be there).
 */
function mismatch(actual: unknown, expected: unknown, at: string, exact: boolean): string | null {
  if (typeof expected === 'function' && 'label' in expected) {
    return (expected as Matcher)(actual) ? null : `${at || '/'}: expected ${(expected as Matcher).label}, got ${show(actual)}`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${at || '/'}: expected an array, got ${show(actual)}`;
    if (actual.length !== expected.length) return `${at || '/'}: expected ${expected.length} entries, got ${actual.length}: ${show(actual)}`;
    for (let i = 0; i < expected.length; i++) {
      const m = mismatch(actual[i], expected[i], `${at}/${i}`, exact);
      if (m) return m;
    }
    return null;
  }
  if (expected !== null && typeof expected === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return `${at || '/'}: expected an object, got ${show(actual)}`;
    for (const [key, value] of Object.entries(expected)) {
      const m = mismatch((actual as Record<string, unknown>)[key], value, `${at}/${key}`, exact);
      if (m) return m;
    }
    const extra = exact ? Object.keys(actual).filter((k) => !(k in expected)) : [];
    return extra.length ? `${at || '/'}: unexpected ${extra.map((k) => `"${k}"`).join(', ')} in ${show(actual)}` : null;
  }
  return Object.is(actual, expected) ? null : `${at || '/'}: expected ${show(expected)}, got ${show(actual)}`;
}

/** The answer has `status` and, when given, a body that holds at least what `body` holds. */
export function expectAnswer(answer: Answer, status: number, body?: unknown): Answer {
  if (answer.status !== status) throw new CheckFailure(`expected status ${status}, got ${answer.status}`, answer);
  const m = body === undefined ? null : mismatch(answer.body, body, '', false);
  if (m) throw new CheckFailure(`body ${m}`, answer);
  return answer;
}

/** The answer has `status` and exactly this body (no more keys): `{}` must be `{}`. */
export function expectExactly(answer: Answer, status: number, body: unknown): Answer {
  if (answer.status !== status) throw new CheckFailure(`expected status ${status}, got ${answer.status}`, answer);
  const m = mismatch(answer.body, body, '', true);
  if (m) throw new CheckFailure(`body ${m}`, answer);
  return answer;
}

/** `actual` equals `expected` deeply, no key more or less (matchers allowed); `what` says what the value is. */
export function expectEqual(actual: unknown, expected: unknown, what: string, answer?: Answer) {
  const m = mismatch(actual, expected, '', true);
  if (m) throw new CheckFailure(`${what}: ${m}`, answer);
}

/** A condition that must hold; `failure` says in words what is wrong when it does not. */
export function expectThat(condition: boolean, failure: string, answer?: Answer) {
  if (!condition) throw new CheckFailure(failure, answer);
}

/** Polls `probe` until it gives a truthy value, for at most `ms`; fails saying `what` was awaited. */
export async function eventually<T>(probe: () => Promise<T>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new CheckFailure(`${what}: not within ${ms} ms`);
    await Bun.sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks and the runner.

export interface Check<C> {
  /** The section `--only` selects. */
  section: string;
  /** A sentence of behaviour. */
  name: string;
  /** Other names `--only` selects the check by (`limits`, `input`). */
  topics?: readonly string[];
  run(ctx: C): Promise<void>;
}

/** A maker of checks of one section: `const check = checksOf<Ctx>('posts'); check('name', run, ['limits'])`. */
export function checksOf<C>(section: string) {
  return (name: string, run: (ctx: C) => Promise<void>, topics?: readonly string[]): Check<C> => ({ section, name, run, topics });
}

export interface Result {
  section: string;
  name: string;
  ok: boolean;
  ms: number;
  /** The failure, with the request and the answer that showed it. */
  failure?: string;
}

/** A failure as the report shows it: the message, then the request and the answer. */
export function describeFailure(error: unknown, fallback?: Answer): string {
  if (!(error instanceof CheckFailure)) return error instanceof Error ? `${error.message}` : String(error);
  const answer = error.answer ?? fallback;
  if (!answer) return error.message;
  const { request } = answer;
  const headers = Object.entries(request.headers)
    .filter(([k]) => k !== 'content-type')
    .map(([k, v]) => ` -H '${k}: ${v.length > 60 ? `${v.slice(0, 57)}…` : v}'`)
    .join('');
  const body = request.body === undefined ? '' : ` ${clip(request.body)}`;
  return `${error.message}\n    request: ${request.api ? `${request.api} ` : ''}${request.method} ${request.path}${headers}${body}\n    answer:  ${answer.status} ${clip(answer.text)}`;
}
const clip = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text);

/** The checks `only` names (sections or topics, comma-separated; aliases expand); all when empty. */
export function select<C>(checks: readonly Check<C>[], only: string | undefined, aliases: Record<string, readonly string[]> = {}): Check<C>[] {
  if (!only) return [...checks];
  const wanted = new Set(only.split(',').map((s) => s.trim()).filter(Boolean).flatMap((s) => aliases[s] ?? [s]));
  const known = new Set([...checks.flatMap((c) => [c.section, ...(c.topics ?? [])]), ...Object.keys(aliases)]);
  const unknown = [...wanted].filter((w) => !known.has(w));
  if (unknown.length) throw new Error(`--only: no section or topic ${unknown.join(', ')} (known: ${[...known].sort().join(', ')})`);
  return checks.filter((c) => wanted.has(c.section) || c.topics?.some((t) => wanted.has(t)));
}

/** Runs one check against `ctx`, within `timeoutMs`; never throws. */
export async function runCheck<C extends { recorder: Recorder }>(check: Check<C>, ctx: C, timeoutMs = 120_000): Promise<Result> {
  const started = performance.now();
  const before = ctx.recorder.count;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      check.run(ctx),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new CheckFailure(`did not finish within ${timeoutMs} ms`)), timeoutMs))),
    ]);
    return { section: check.section, name: check.name, ok: true, ms: performance.now() - started };
  } catch (error) {
    // A failure about a derived value is shown with the last answer this check got.
    const last = ctx.recorder.count > before ? ctx.recorder.last : undefined;
    return { section: check.section, name: check.name, ok: false, ms: performance.now() - started, failure: describeFailure(error, last) };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `checks` one after another, printing a line for each as it ends; the results. */
export async function runAll<C extends { recorder: Recorder }>(checks: readonly Check<C>[], ctx: C, print: (line: string) => void, timeoutMs?: number): Promise<Result[]> {
  const results: Result[] = [];
  for (const check of checks) {
    const result = await runCheck(check, ctx, timeoutMs);
    print(resultLine(result));
    results.push(result);
  }
  return results;
}

/** The line a result prints as. */
export function resultLine(r: Result): string {
  const head = `${r.ok ? 'ok  ' : 'FAIL'} ${r.section.padEnd(14)} ${r.name} (${Math.round(r.ms)} ms)`;
  return r.ok ? head : `${head}\n    ${r.failure!.replace(/\n/g, '\n    ')}`;
}

export function summaryLine(kit: string, results: readonly Result[], ms: number): string {
  const failed = results.filter((r) => !r.ok).length;
  return `${kit}: ${results.length} checks, ${results.length - failed} ok, ${failed} FAIL (${(ms / 1000).toFixed(1)} s)`;
}

const xml = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** JUnit XML: a test suite per section, a test case per check. */
export function junit(kit: string, results: readonly Result[]): string {
  const sections = [...new Set(results.map((r) => r.section))];
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const total = (rs: readonly Result[]) => rs.reduce((s, r) => s + r.ms, 0);
  const suites = sections.map((section) => {
    const rs = results.filter((r) => r.section === section);
    const cases = rs.map((r) => {
      const open = `    <testcase classname="${xml(`${kit}.${section}`)}" name="${xml(r.name)}" time="${seconds(r.ms)}"`;
      if (r.ok) return `${open}/>`;
      return `${open}>\n      <failure message="${xml(r.failure!.split('\n')[0]!)}">${xml(r.failure!)}</failure>\n    </testcase>`;
    });
    return `  <testsuite name="${xml(`${kit} ${section}`)}" tests="${rs.length}" failures="${rs.filter((r) => !r.ok).length}" time="${seconds(total(rs))}">\n${cases.join('\n')}\n  </testsuite>`;
  });
  const failures = results.filter((r) => !r.ok).length;
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${xml(kit)} conformance" tests="${results.length}" failures="${failures}" time="${seconds(total(results))}">\n${suites.join('\n')}\n</testsuites>\n`;
}
