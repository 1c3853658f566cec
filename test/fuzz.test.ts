import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { ADMIN, startMinifb, type Answer, type Minifb } from './support/minifb.ts';
import { startShop, type Shop } from './support/shop.ts';

/**
 * Hostile input on every operation both products document, generated from their own OpenAPI documents:
 * path parameters, query strings, bodies (wrong types for every property, strings past every
 * limit, odd characters, malformed JSON, values of no shape at all) and tokens. However wrong the
 * request, the answer is a 4xx (or a success), never a 5xx, and it is one the document declares,
 * in the shape it declares. The values are drawn from a seeded generator: a failure names the
 * request, and the same seed gives the same requests again (FUZZ_SEED=… to try others).
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261124);
const ROUNDS = 12;

/** mulberry32: small, seeded, good enough to pick test values. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(values: readonly T[]): T => values[Math.floor(next() * values.length)]!;
  return { next, pick };
}

const ODD_STRINGS = ['', ' ', '\t\n', 'a', 'abc', '0', '-1', '1e3', '1.5', 'null', 'true', '[]', '{}', '%', '../..', 'ä', '🙂', '\u200b', '\ud800', 'x\u0000y', "'; DROP TABLE post; --", '<script>alert(1)</script>', '\\', '"'];
const ODD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 31, 2 ** 53 + 2, -(2 ** 63), 1e308, '', '1', [], [1], {}, { a: 1 }, [[[]]]];
/** Path segments, already URL-encoded as a client would send them. */
const ODD_SEGMENTS = ['0', '-1', '1.5', '1e3', '00001', '2147483648', '9223372036854775808', '99999999999999999999999', 'abc', '%20', '%00', '%F0%9F%99%82', '%ED%A0%80', '%FF', 'nobody1', 'x'.repeat(300), '%25', '..%2F..'];
const ODD_QUERIES = ['limit=0', 'limit=101', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=', 'limit=1&limit=2', 'cursor=', 'cursor=abc', 'cursor=%00', 'cursor=eyJ9', `cursor=${'A'.repeat(5000)}`, 'unread=maybe', 'unread=', 'unread=true&unread=false', 'limit=100&cursor=bm9wZQ', '%zz=1'];
const ODD_RAW_BODIES = ['{', '{"a":', 'null', '[]', '"text"', '42', 'true', '{"content": "a", }', '\u0000', '{"content":"\\ud800"}', '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {"x": 1}}}'];
const BAD_TOKENS = ['', 'Bearer', 'x.y.z', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.', 'a'.repeat(5000)];

interface Operation {
  method: string;
  template: string;
  params: { in: string; name: string }[];
  body?: { properties?: Record<string, any>; required?: string[] };
}

function operationsOf(doc: any): Operation[] {
  const ops: Operation[] = [];
  for (const [template, methods] of Object.entries<any>(doc.paths)) {
    for (const [method, op] of Object.entries<any>(methods)) {
      ops.push({ method: method.toUpperCase(), template, params: op.parameters ?? [], body: op.requestBody?.content?.['application/json']?.schema });
    }
  }
  return ops;
}

/** A value for a body property: of the wrong type, past a limit, odd, or plausible. */
function valueFor(rand: ReturnType<typeof generator>, schema: any): unknown {
  const roll = rand.next();
  if (roll < 0.3) return rand.pick(ODD_VALUES);
  if (roll < 0.55) return rand.pick(ODD_STRINGS);
  if (roll < 0.75 && typeof schema?.maxLength === 'number') return rand.pick(['x', '한', '🙂']).repeat(schema.maxLength + 1 + Math.floor(rand.next() * 3));
  if (roll < 0.85 && typeof schema?.minimum === 'number') return rand.pick([schema.minimum - 1, schema.maximum + 1, schema.minimum + 0.5, String(schema.minimum)]);
  return rand.pick(['valid text', 'another fine password', 3, 'Nick']);
}

function bodyFor(rand: ReturnType<typeof generator>, op: Operation): { body?: unknown; raw?: string } {
  const roll = rand.next();
  if (roll < 0.2) return { raw: rand.pick(ODD_RAW_BODIES) };
  if (roll < 0.3) return { body: rand.pick(ODD_VALUES) };
  const properties = op.body?.properties ?? { content: {}, id: {}, type: {} };
  const body: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(properties)) {
    if (rand.next() < 0.15) continue; // missing
    body[name] = valueFor(rand, schema);
  }
  if (rand.next() < 0.2) body[rand.pick(['extra', 'id', 'owner', 'admin'])] = rand.pick(ODD_VALUES);
  return { body };
}

/** A path for `op` with each parameter replaced: mostly odd segments, sometimes one of `real`. */
function pathFor(rand: ReturnType<typeof generator>, op: Operation, real: readonly string[]): string {
  let path = op.template.replace(/\{[^}]+\}/g, () => (rand.next() < 0.2 ? rand.pick(real) : rand.pick(ODD_SEGMENTS)));
  if (op.params.some((p) => p.in === 'query') || rand.next() < 0.1) path += `?${rand.pick(ODD_QUERIES)}`;
  return path;
}

describe.each(['pglite', 'pg', 'split'] as const)('minifb under hostile input on %s', (backend) => {
  let fb: Minifb;
  let ops: Operation[];
  let user: string;
  let admin: string;
  const answers: { request: string; answer: Answer }[] = [];

  beforeAll(async () => {
    fb = await startMinifb({ backend });
    user = await fb.user('fuzzer');
    admin = (await fb.login(ADMIN.id, ADMIN.pw)).accessToken;
    // Real targets too, so that some requests get past the lookups.
    const post = (await fb.call('POST', '/post', { token: user, body: { content: 'a post' } })).body;
    await fb.call('POST', `/post/${post.id}/comment`, { token: user, body: { content: 'a comment' } });
    ops = operationsOf({ paths: await fb.openapiPaths() });
  }, 90000);

  afterAll(async () => {
    await fb?.stop();
  }, 30000);

  const send = async (method: string, path: string, options: Parameters<Minifb['call']>[2]) => {
    const request = `${method} ${path} ${JSON.stringify(options)}`.slice(0, 400);
    try {
      answers.push({ request, answer: await fb.call(method, path, options) });
    } catch (error) {
      throw new Error(`${request} could not be answered: ${error}`);
    }
  };

  test('every documented operation — generated hostile requests never get a 5xx', async () => {
    expect(ops.length).toBeGreaterThan(25);
    const rand = generator(SEED);
    for (let round = 0; round < ROUNDS; round++) {
      for (const op of ops) {
        // The admin's own password and tokens stay as they are: temporary passwords go to nobody real.
        const token = op.template.startsWith('/admin') || op.template.includes('temporary-password') ? admin : rand.next() < 0.85 ? user : rand.pick(BAD_TOKENS);
        const path = pathFor(rand, op, op.template.includes('temporary-password') ? ['nobody1'] : ['1', 'fuzzer']);
        // A body even where none is documented, except on GET (fetch cannot send one).
        const body = op.body || (op.method !== 'GET' && rand.next() < 0.2) ? bodyFor(rand, op) : {};
        await send(op.method, path, { token, ...body });
      }
    }
    const failures = answers.filter(({ answer }) => answer.status >= 500).map(({ request, answer }) => `${request} → ${answer.status} ${answer.text.slice(0, 200)}`);
    expect(failures).toEqual([]);
    // They were refused for what they were, not all alike: the mix reached several statuses.
    expect(new Set(answers.map(({ answer }) => answer.status)).size).toBeGreaterThanOrEqual(4);
  }, 120000);

  test('every answer to them is one the OpenAPI document declares, in its declared shape', async () => {
    expect(answers.length).toBeGreaterThan(0);
    expect(await fb.openapiProblems()).toEqual([]);
  });

  test('every error answer is the {result, hint} envelope with a hint', () => {
    const bad = answers.filter(({ answer }) => answer.status >= 400 && !(typeof answer.body?.result === 'string' && typeof answer.body?.hint === 'string' && answer.body.hint.length > 0));
    expect(bad.map(({ request, answer }) => `${request} → ${answer.status} ${answer.text.slice(0, 200)}`)).toEqual([]);
  });
});

describe.each(['pglite', 'pg'] as const)('homeshopping under hostile input on %s', (backend) => {
  /** User 10 of the sample data. */
  const TOKEN = '4a49145e-45a8-4845-af45-1af2a59bb044';
  let shop: Shop;
  const answers: { request: string; status: number; body: string }[] = [];

  beforeAll(async () => {
    shop = await startShop({ backend });
  }, 90000);

  afterAll(async () => {
    await shop?.stop();
  }, 30000);

  test('every documented operation of item, alarm and user — generated hostile requests never get a 5xx', async () => {
    const rand = generator(SEED);
    for (const module of ['item', 'alarm', 'user'] as const) {
      const client = shop[module];
      const ops = operationsOf((await client.call('GET', '/openapi.json')).body);
      expect(ops.length).toBeGreaterThan(0);
      for (let round = 0; round < ROUNDS * 3; round++) {
        for (const op of ops) {
          const path = pathFor(rand, op, ['50', '1']);
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (rand.next() < 0.85) headers['USER-TOKEN'] = TOKEN;
          else if (rand.next() < 0.8) headers['USER-TOKEN'] = rand.pick([...BAD_TOKENS, ...ODD_STRINGS.filter((t) => /^[\x20-\x7e]*$/.test(t))]);
          const { body, raw } = op.body || (op.method !== 'GET' && rand.next() < 0.2) ? bodyFor(rand, { ...op, body: op.body ?? { properties: { item_id: {} } } }) : {};
          const text = raw ?? (body === undefined ? undefined : JSON.stringify(body));
          const request = `${module} ${op.method} ${path} ${JSON.stringify(headers)} ${text ?? ''}`.slice(0, 400);
          const res = await client.call(op.method, path, { headers, raw: text });
          answers.push({ request, status: res.status, body: res.text });
        }
      }
    }
    expect(answers.filter((a) => a.status >= 500).map((a) => `${a.request} → ${a.status} ${a.body.slice(0, 200)}`)).toEqual([]);
    expect(new Set(answers.map((a) => a.status)).size).toBeGreaterThanOrEqual(4);
  }, 120000);

  test("every error answer is the contract's: a bare {} for 404, {result, hint} for the others", () => {
    expect(answers.length).toBeGreaterThan(0);
    const bad = answers.filter(({ status, body }) => {
      if (status < 400) return false;
      if (status === 404) return body !== '{}';
      const json = JSON.parse(body);
      return !(typeof json.result === 'string' && typeof json.hint === 'string' && json.hint.length > 0);
    });
    expect(bad.map((a) => `${a.request} → ${a.status} ${a.body.slice(0, 200)}`)).toEqual([]);
  });
});
