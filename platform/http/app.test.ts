import { describe, expect, test } from 'bun:test';
import { Type as t } from '@sinclair/typebox';
import { Elysia } from 'elysia';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig, ConfigError } from '../config.ts';
import { DomainError } from '../errors.ts';
import { createHttpApp } from './app.ts';
import { pathId, pathText, requestLine } from './schemas.ts';
import { createLogger } from '../observability/log.ts';
import { cursorOf, pageOf, pageResult } from '../pagination.ts';
import { pathOf, PortRoutes, RouteTable } from './routes.ts';
import { jwtSecret } from '../secrets.ts';
import { charCount, checkText } from '../text.ts';

/** The small HTTP-facing pieces of the platform, one by one. */
const log = createLogger({ test: 'web' });
const code = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    return error instanceof DomainError ? `${error.code}: ${error.message}` : `${(error as Error).name}: ${(error as Error).message}`;
  }
  return 'ok';
};

describe('routes', () => {
  const table = new RouteTable([
    { method: 'GET', path: '/post' },
    { method: 'POST', path: '/post' },
    { method: 'GET', path: '/post/:id' },
    { method: 'PATCH', path: '/post/:id' },
    { method: 'GET', path: '/post/:id/comment' },
    { method: 'GET', path: '/me' },
    { method: 'GET', path: '/:item_id' },
    { method: 'ALL', path: '/*' },
  ]);

  test('RouteTable.match — names the route pattern with {params}, not the raw path', () => {
    expect(table.match('GET', '/post/14')).toEqual({ pattern: 'GET /post/{id}', route: '/post/{id}' });
    expect(table.match('GET', '/post/14/comment')).toEqual({ pattern: 'GET /post/{id}/comment', route: '/post/{id}/comment' });
    expect(table.match('GET', '/post')).toEqual({ pattern: 'GET /post', route: '/post' });
    expect(table.match('HEAD', '/post')).toEqual({ pattern: 'HEAD /post', route: '/post' });
  });

  test('RouteTable.match — a static segment beats a parameter, as in the router', () => {
    expect(table.match('GET', '/me')).toEqual({ pattern: 'GET /me', route: '/me' });
    expect(table.match('GET', '/42')).toEqual({ pattern: 'GET /{item_id}', route: '/{item_id}' });
  });

  test('PortRoutes — the route a request hit, matched once for all who ask; the table made when first asked', () => {
    const declared: { method: string; path: string }[] = [];
    const routes = new PortRoutes(() => declared);
    declared.push({ method: 'GET', path: '/post/:id' });
    const request = new Request('http://localhost/post/7?x=1');
    const hit = routes.of(request);
    expect(hit).toEqual({ pattern: 'GET /post/{id}', route: '/post/{id}' });
    expect(routes.of(request)).toBe(hit!);
    expect(routes.of(new Request('http://localhost/nowhere'))).toBeUndefined();
    expect(pathOf('http://localhost:8000/post/7?x=/y')).toBe('/post/7');
    expect(pathOf('http://localhost')).toBe('/');
  });

  test('RouteTable.match — undefined when no route of that method has the path', () => {
    expect(table.match('DELETE', '/post/1')).toBeUndefined();
    expect(table.match('GET', '/post/1/comment/2')).toBeUndefined();
  });

  test('RouteTable.allowed — the methods a path has, sorted; none for an unknown path', () => {
    expect(table.allowed('/post/1')).toEqual(['GET', 'PATCH']);
    expect(table.allowed('/post')).toEqual(['GET', 'POST']);
    expect(table.allowed('/a/b/c')).toEqual([]);
  });
});

describe('pagination', () => {
  test('pageOf — 20 by default, 1 to 100, no cursor on the first page', () => {
    expect(pageOf({}, 'post', 'X.INVALID')).toEqual({ limit: 20, after: undefined });
    expect(pageOf({ limit: '1' }, 'post', 'X.INVALID').limit).toBe(1);
    expect(pageOf({ limit: '100', cursor: '' }, 'post', 'X.INVALID')).toEqual({ limit: 100, after: undefined });
  });

  test('pageOf — any other limit is INVALID naming limit', () => {
    for (const limit of ['0', '101', '-1', '1.5', 'ten', '', '1e2', ' 5', '0100']) {
      expect({ limit, error: code(() => pageOf({ limit }, 'post', 'X.INVALID')) }).toEqual({ limit, error: 'X.INVALID: limit: must be an integer from 1 to 100' });
    }
  });

  test("pageOf — reads a cursor of its own list; another list's, or garbage, is INVALID naming cursor", () => {
    expect(pageOf({ cursor: cursorOf('post', 41) }, 'post', 'X.INVALID').after).toBe(41);
    const refused = 'X.INVALID: cursor: is not a cursor this list gave out';
    for (const cursor of [cursorOf('comment', 41), 'zzz', '!!!', Buffer.from('post:-1').toString('base64url'), Buffer.from('post:1.5').toString('base64url'), 'a'.repeat(300)]) {
      expect({ cursor, error: code(() => pageOf({ cursor }, 'post', 'X.INVALID')) }).toEqual({ cursor, error: refused });
    }
  });

  test('pageResult — cuts the extra row and points the cursor at the last row shown; null on the last page', () => {
    const rows = [{ id: 9 }, { id: 8 }, { id: 7 }];
    const page = { limit: 2, after: undefined };
    expect(pageResult(rows, page, 'post', (r) => r.id)).toEqual({ items: [{ id: 9 }, { id: 8 }], nextCursor: cursorOf('post', 8) });
    expect(pageResult(rows.slice(0, 2), page, 'post', (r) => r.id)).toEqual({ items: [{ id: 9 }, { id: 8 }], nextCursor: null });
    expect(pageResult([], page, 'post', (r: { id: number }) => r.id)).toEqual({ items: [], nextCursor: null });
  });
});

describe('text limits', () => {
  test('charCount — counts code points: an emoji is one, a Korean syllable is one', () => {
    expect(charCount('')).toBe(0);
    expect(charCount('abc')).toBe(3);
    expect(charCount('한글')).toBe(2);
    expect(charCount('😀😀')).toBe(2);
    expect('😀😀'.length).toBe(4);
  });

  test('checkText — passes min and max, refuses one below and one above, naming the field', () => {
    expect(checkText('X.INVALID', 'name', 'ab', { min: 2, max: 3 })).toBe('ab');
    expect(checkText('X.INVALID', 'name', '😀😀😀', { min: 2, max: 3 })).toBe('😀😀😀');
    expect(code(() => checkText('X.INVALID', 'name', 'a', { min: 2, max: 3 }))).toBe('X.INVALID: name: must be 2 to 3 characters');
    expect(code(() => checkText('X.INVALID', 'name', '😀😀😀😀', { min: 2, max: 3 }))).toBe('X.INVALID: name: must be 2 to 3 characters');
  });

  test('checkText — refuses what Postgres text cannot hold (NUL) and lone surrogates, naming the field', () => {
    expect(code(() => checkText('X.INVALID', 'content', 'a\u0000b', { min: 1, max: 10 }))).toBe('X.INVALID: content: must not contain the NUL character (U+0000)');
    expect(code(() => checkText('X.INVALID', 'content', 'a\ud800b', { min: 1, max: 10 }))).toBe('X.INVALID: content: must be well-formed Unicode (no lone surrogate)');
    expect(checkText('X.INVALID', 'content', 'a\ud83d\ude00b', { min: 1, max: 10 })).toBe('a😀b');
  });
});

describe('path segments', () => {
  test('pathId — decimal ids within the safe range; anything else is NOT_FOUND', () => {
    expect(pathId('14', 'X.NOT_FOUND', 'post')).toBe(14);
    for (const raw of ['0', '-1', 'abc', '1.5', '1e3', '9999999999999999', '', null, undefined]) {
      expect(code(() => pathId(raw, 'X.NOT_FOUND', 'post'))).toStartWith('X.NOT_FOUND: no post');
    }
  });

  test('pathText — null (not valid percent-encoding) is refused with the given code', () => {
    expect(pathText('abc', 'X.INVALID', 'id')).toBe('abc');
    expect(code(() => pathText(null, 'X.INVALID', 'id'))).toBe('X.INVALID: id: is not valid percent-encoding');
  });

  test('requestLine — the method and the path as sent, without the query', () => {
    expect(requestLine(new Request('http://h:8000/post/014?x=1', { method: 'DELETE' }))).toBe('DELETE /post/014');
    expect(requestLine(new Request('http://h/'))).toBe('GET /');
  });
});

describe('the HTTP app', () => {
  const app = createHttpApp({ name: 'web-test', product: 'minifb', modules: ['test'], maxBodyBytes: 1024, log })
    .get('/boom', () => {
      throw new Error('the disk is full');
    })
    .get('/typed', () => {
      throw new TypeError("Cannot read properties of undefined (reading 'x')");
    })
    .post('/echo', ({ body }) => body, { body: t.Object({ n: t.Integer(), s: t.Optional(t.Union([t.String({ minLength: 2 }), t.Null()], { error: 'must be 2 characters or more' })) }) });
  const send = async (method: string, path: string, body?: string) => {
    const res = await app.handle(new Request(`http://localhost${path}`, { method, body, headers: body ? { 'content-type': 'application/json' } : {} }));
    return { status: res.status, body: await res.json(), allow: res.headers.get('allow') };
  };

  test('a 500 carries the error message as its hint, never a stack trace', async () => {
    const boom = await send('GET', '/boom');
    expect(boom).toEqual({ status: 500, body: { result: 'Internal Server Error', hint: 'the disk is full' }, allow: null });
    const typed = await send('GET', '/typed');
    expect(typed.body.hint).toBe("Cannot read properties of undefined (reading 'x')");
    expect(JSON.stringify(typed.body)).not.toContain('    at ');
  });

  test("validation hints: required, wrong type, the schema's own limit", async () => {
    expect((await send('POST', '/echo', '{}')).body.hint).toBe('n: is required');
    expect((await send('POST', '/echo', '{"n":"1"}')).body.hint).toBe('n: must be an integer');
    expect((await send('POST', '/echo', '{"n":1.5}')).body.hint).toBe('n: must be an integer');
    expect((await send('POST', '/echo', '{"n":1,"s":5}')).body.hint).toBe('s: must be a string or null');
    expect((await send('POST', '/echo', '{"n":1,"s":"x"}')).body.hint).toBe('s: must be 2 characters or more');
    // Elysia reads a JSON body that is not an object as an empty object: its fields are missing.
    for (const raw of ['"text"', '[1]', '7']) expect(await send('POST', '/echo', raw)).toMatchObject({ status: 400, body: { hint: 'n: is required' } });
  });

  test('405 with Allow for a known path, 404 for an unknown one', async () => {
    expect(await send('PUT', '/echo')).toEqual({ status: 405, body: { result: 'Method Not Allowed', hint: 'PUT is not allowed on /echo (allowed: POST)' }, allow: 'POST' });
    expect(await send('GET', '/nowhere')).toEqual({ status: 404, body: { result: 'Not Found', hint: 'no route for GET /nowhere' }, allow: null });
  });
});

describe('the JWT secret', () => {
  const config = (env: Record<string, string>, dataDir: string) => parseConfig({ DATA_DIR: dataDir, ...env }, [{ name: 'm', defaultPort: 1 }]);

  test('jwtSecret — JWT_SECRET when given (at least 32 characters)', () => {
    expect(jwtSecret(config({ JWT_SECRET: 's'.repeat(32) }, '/nonexistent'), log)).toBe('s'.repeat(32));
    expect(code(() => jwtSecret(config({ JWT_SECRET: 'short' }, '/nonexistent'), log))).toBe('ConfigError: JWT_SECRET: must be at least 32 characters');
  });

  test('jwtSecret — required when NATS_URL is set: every process must share it', () => {
    const error = code(() => jwtSecret(config({ NATS_URL: 'nats://n:4222' }, '/nonexistent'), log));
    expect(error).toStartWith('ConfigError: JWT_SECRET: is required when NATS_URL is set');
    expect(new ConfigError('X', 'y').variable).toBe('X');
  });

  test('jwtSecret — the embedded mode generates one into DATA_DIR/jwt-secret (owner-only) and keeps it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'secret-'));
    try {
      const first = jwtSecret(config({}, dir), log);
      expect(first.length).toBeGreaterThanOrEqual(32);
      expect(readFileSync(join(dir, 'jwt-secret'), 'utf8').trim()).toBe(first);
      expect(statSync(join(dir, 'jwt-secret')).mode & 0o777).toBe(0o600);
      expect(jwtSecret(config({}, dir), log)).toBe(first);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('Elysia hands one context to onRequest and the handler (headerAuth relies on it)', async () => {
  const app = new Elysia().onRequest((c) => void ((c as unknown as { mark: string }).mark = 'set early')).get('/', (c) => (c as unknown as { mark: string }).mark);
  expect(await (await app.handle(new Request('http://localhost/'))).text()).toBe('set early');
});
