import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusText } from '../platform/http/app.ts';
import { embeddedForSuite } from './support/embedded.ts';
import { ADMIN, startMinifb, type Minifb } from './support/minifb.ts';
import { freePort } from './support/split.ts';

/**
 * What every port shows a client before the domain does anything: CORS, the body limit, JSON
 * without its Content-Type, text no database can hold, and the port's OpenAPI document (held to
 * Redocly's recommended rules) with its offline reference page. Embedded: every module of both
 * products in one system on real ports; split: minifb's processes, each with its own document.
 */
type Json = Record<string, any>;
const ORIGIN = 'https://app.example.com';
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
const ROOT = join(import.meta.dir, '..');
const MIB = 1024 * 1024;

/** Runs Redocly's recommended rules on documents; exit 0 means no error. */
function redoclyLint(docs: Record<string, Json>): { exitCode: number; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'redocly-'));
  try {
    const files = Object.entries(docs).map(([name, doc]) => {
      const file = join(dir, `${name}.json`);
      writeFileSync(file, JSON.stringify(doc, null, 2));
      return file;
    });
    const run = Bun.spawnSync([join(ROOT, 'node_modules/.bin/redocly'), 'lint', '--extends=recommended', '--format=stylish', ...files], {
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
      stdout: 'pipe',
      stderr: 'pipe',
    });
    const output = run.stdout.toString() + run.stderr.toString();
    // Every document was read (Redocly names them by a relative path).
    for (const name of Object.keys(docs)) expect(output).toMatch(new RegExp(`validating \\S*/${name}\\.json`));
    return { exitCode: run.exitCode ?? -1, output };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What the document promises, checked against the product it documents. */
function checkDocument(doc: Json, product: 'homeshopping' | 'minifb', modules: string[]) {
  expect(doc.info.title).toBe(`${product === 'homeshopping' ? 'Homeshopping Moa' : 'minifb'} — ${modules.join(', ')} API`);
  for (const m of modules) expect(doc.info.description).toContain(m);
  expect(doc.servers.length).toBeGreaterThan(0);
  const text = JSON.stringify(doc);
  expect(text).not.toContain('"error":');
  expect(text).not.toContain('x-www-form-urlencoded');
  expect(text).not.toContain('Development documentation');
  const schemes = doc.components.securitySchemes;
  if (product === 'homeshopping') {
    expect(schemes.userToken).toEqual(expect.objectContaining({ type: 'apiKey', in: 'header', name: 'USER-TOKEN' }));
    expect(doc.security).toEqual([{ userToken: [] }]);
  } else {
    expect(schemes.bearerAuth).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }));
  }
  for (const [path, ops] of Object.entries<Json>(doc.paths)) {
    for (const [method, op] of Object.entries<Json>(ops)) {
      const where = `${method.toUpperCase()} ${path}`;
      if (product === 'minifb') expect({ where, security: Array.isArray(op.security) }).toEqual({ where, security: true });
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        const example = response.content?.['application/json']?.example;
        if (Number(status) < 400 || !response.content?.['application/json']?.schema?.properties?.hint) continue;
        // A real example per status: its own status text, a hint of its own.
        expect({ where, status, result: example?.result }).toEqual({ where, status, result: statusText(Number(status)) });
        expect(typeof example.hint).toBe('string');
      }
    }
  }
  // An enum is typed as what it holds.
  const enums: Json[] = [];
  JSON.stringify(doc, (_, v) => (v && typeof v === 'object' && Array.isArray(v.enum) ? (enums.push(v), v) : v));
  for (const e of enums) for (const value of e.enum) expect({ e, type: typeof value === 'number' ? (Number.isInteger(value) ? 'integer' : 'number') : typeof value }).toEqual({ e, type: e.type });
}

describe('embedded: every port of both products', () => {
  const portOf: Record<string, number> = { item: freePort(), alarm: freePort(), user: freePort(), minifb: freePort() };
  const PORTS = [portOf.item!, portOf.alarm!, portOf.user!, portOf.minifb!];
  const PRODUCT: Record<number, 'homeshopping' | 'minifb'> = { [portOf.item!]: 'homeshopping', [portOf.alarm!]: 'homeshopping', [portOf.user!]: 'homeshopping', [portOf.minifb!]: 'minifb' };
  const docs: Record<number, Json> = {};
  let token = '';
  let admin = '';
  const url = (port: number, path: string) => `http://127.0.0.1:${port}${path}`;
  /** Credentials for a port's operations: USER-TOKEN on homeshopping, a Bearer token on minifb. */
  const auth = (port: number, op: Json, path: string): Record<string, string> => {
    if (PRODUCT[port] === 'homeshopping') return { 'USER-TOKEN': T10 };
    if (!op.security?.length) return {};
    return { authorization: `Bearer ${path.startsWith('/admin') || path.includes('temporary-password') ? admin : token}` };
  };

  const env: Record<string, string> = { HOST: '127.0.0.1', CORS_ORIGINS: `${ORIGIN},http://localhost:3000`, ITEM_PORT: String(portOf.item), ALARM_PORT: String(portOf.alarm), USER_PORT: String(portOf.user) };
  for (const m of ['account', 'feed', 'notification', 'stats']) env[`${m.toUpperCase()}_PORT`] = String(portOf.minifb);
  embeddedForSuite(env);

  beforeAll(async () => {
    for (const port of PORTS) docs[port] = await (await fetch(url(port, '/openapi.json'))).json();
    const json = { 'content-type': 'application/json' };
    await fetch(url(portOf.minifb!, '/signup'), { method: 'POST', headers: json, body: JSON.stringify({ id: 'surface', pw: 'surface-password', name: 'Surface' }) });
    const login = async (id: string, pw: string) => (await (await fetch(url(portOf.minifb!, '/auth'), { method: 'POST', headers: json, body: JSON.stringify({ id, pw }) })).json()).accessToken;
    token = await login('surface', 'surface-password');
    admin = await login(ADMIN.id, ADMIN.pw);
  }, 90000);

  describe('CORS', () => {
    test('every port — an allowed origin\'s preflight of a guarded route is 204 with the allow headers, before any authentication', async () => {
      for (const port of PORTS) {
        const path = PRODUCT[port] === 'homeshopping' ? '/' : '/me';
        const res = await fetch(url(port, path), { method: 'OPTIONS', headers: { origin: ORIGIN, 'access-control-request-method': 'GET', 'access-control-request-headers': 'user-token, authorization, content-type' } });
        expect({ port, status: res.status, origin: res.headers.get('access-control-allow-origin') }).toEqual({ port, status: 204, origin: ORIGIN });
        expect(res.headers.get('access-control-allow-headers')).toBe('USER-TOKEN, Authorization, Content-Type');
      }
    });

    test('every port — another origin gets no allow header, on its preflight or on its request', async () => {
      for (const port of PORTS) {
        const other = { origin: 'https://elsewhere.example.com' };
        const preflight = await fetch(url(port, '/'), { method: 'OPTIONS', headers: { ...other, 'access-control-request-method': 'POST' } });
        const request = await fetch(url(port, '/openapi.json'), { headers: other });
        expect({ port, preflight: preflight.headers.get('access-control-allow-origin'), request: request.headers.get('access-control-allow-origin') }).toEqual({ port, preflight: null, request: null });
      }
    });

    test('every port — an allowed origin\'s request, answered or refused, carries its origin', async () => {
      for (const port of PORTS) {
        const ok = await fetch(url(port, '/openapi.json'), { headers: { origin: ORIGIN } });
        const refused = await fetch(url(port, PRODUCT[port] === 'homeshopping' ? '/' : '/me'), { headers: { origin: 'http://localhost:3000' } });
        expect({ port, ok: ok.headers.get('access-control-allow-origin'), refused: [refused.status, refused.headers.get('access-control-allow-origin')] }).toEqual({ port, ok: ORIGIN, refused: [401, 'http://localhost:3000'] });
      }
    });
  });

  describe('body limit (MAX_BODY_BYTES, 1 MiB by default)', () => {
    const targets = (): { port: number; path: string; headers: Record<string, string> }[] => [
      { port: portOf.alarm!, path: '/', headers: { 'USER-TOKEN': T10 } },
      { port: portOf.minifb!, path: '/post', headers: { authorization: `Bearer ${token}` } },
    ];

    test('a body over the limit is 413 in the {result, hint} envelope, with or without Content-Length', async () => {
      for (const { port, path, headers } of targets()) {
        const fixed = await fetch(url(port, path), { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ content: 'x'.repeat(MIB) }) });
        let sent = 0;
        const chunked = await fetch(url(port, path), {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: new ReadableStream({
            pull(controller) {
              sent += 64 * 1024;
              if (sent > 4 * MIB) return controller.close();
              controller.enqueue(new Uint8Array(64 * 1024).fill(32));
            },
          }),
        });
        for (const res of [fixed, chunked]) {
          expect({ port, status: res.status, body: await res.json() }).toEqual({ port, status: 413, body: { result: 'Payload Too Large', hint: `the request body must be at most ${MIB} bytes` } });
        }
      }
    });

    test('a Content-Length of 100 MB is answered 413 from the headers: the body is never sent, let alone read', async () => {
      for (const { port, path, headers } of targets()) {
        const answer = await new Promise<string>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1');
          let text = '';
          socket.on('data', (d) => {
            text += d;
            if (text.includes('\r\n\r\n') && text.includes('}')) resolve(text), socket.destroy();
          });
          socket.on('error', reject);
          socket.on('close', () => resolve(text));
          const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
          socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\n${head}Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{"content":"`);
        });
        expect(answer).toStartWith('HTTP/1.1 413');
        expect(answer).toContain('"result":"Payload Too Large"');
      }
    });

    test('a body up to the limit is read as usual', async () => {
      const res = await fetch(url(portOf.minifb!, '/post'), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ content: 'x'.repeat(3001), pad: ' '.repeat(MIB - 3100) }) });
      expect(res.status).toBe(400); // read, and refused for what it says
      expect((await res.json()).hint).toBe('content: must be 1 to 3000 characters');
    });
  });

  describe('JSON without Content-Type', () => {
    test('curl -d (form-urlencoded) with a JSON body on 6001 sets the alarm', async () => {
      const res = await fetch(url(portOf.alarm!, '/'), { method: 'POST', headers: { 'USER-TOKEN': T10, 'content-type': 'application/x-www-form-urlencoded' }, body: '{"item_id": 50}' });
      expect({ status: res.status, text: await res.text() }).toEqual({ status: 201, text: '{}' });
      await fetch(url(portOf.alarm!, '/'), { method: 'DELETE', headers: { 'USER-TOKEN': T10 }, body: new TextEncoder().encode('{"item_id": 50}') });
      expect((await (await fetch(url(portOf.alarm!, '/'), { headers: { 'USER-TOKEN': T10 } })).json()).count).toBe(0);
    });

    test('POST /auth on 8000 without any Content-Type logs in; a body that is no JSON says to send JSON', async () => {
      const res = await fetch(url(portOf.minifb!, '/auth'), { method: 'POST', body: new TextEncoder().encode(JSON.stringify({ id: 'surface', pw: 'surface-password' })) });
      expect(res.status).toBe(200);
      expect(typeof (await res.json()).accessToken).toBe('string');
      const form = await fetch(url(portOf.minifb!, '/auth'), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'id=surface&pw=surface-password' });
      expect({ status: form.status, body: await form.json() }).toEqual({ status: 400, body: { result: 'Bad Request', hint: 'the request body is not valid JSON (bodies are JSON: send it with Content-Type: application/json)' } });
    });
  });

  describe('text no database can hold', () => {
    /** A valid-looking value for a schema (strings short, numbers at their minimum). */
    const sample = (schema: Json): unknown => {
      if (schema.anyOf) return sample(schema.anyOf.find((s: Json) => s.type !== 'null') ?? schema.anyOf[0]);
      if (schema.enum) return schema.enum[0];
      switch (schema.type) {
        case 'string':
          return /^\^\[0-9\]/.test(schema.pattern ?? '') ? '12' : 'abcdefghijkl';
        case 'integer':
        case 'number':
          return schema.minimum ?? 1;
        case 'boolean':
          return true;
        case 'object':
          return Object.fromEntries(Object.entries<Json>(schema.properties ?? {}).map(([k, s]) => [k, sample(s)]));
        default:
          return null;
      }
    };
    /** Every string field of a body schema, by path. */
    const stringFields = (schema: Json, at: string[] = []): string[][] => {
      if (schema.type === 'string' || schema.anyOf?.some((s: Json) => s.type === 'string')) return [at];
      return Object.entries<Json>(schema.properties ?? {}).flatMap(([k, s]) => stringFields(s, [...at, k]));
    };
    const withValue = (body: unknown, at: string[], value: unknown): unknown => {
      const copy = structuredClone(body) as Json;
      let node = copy;
      for (const key of at.slice(0, -1)) node = node[key];
      node[at.at(-1)!] = value;
      return copy;
    };

    test('a NUL or a lone surrogate in any string of any documented body, path or query of either product is 400 naming the field', async () => {
      const refused: string[] = [];
      let walked = 0;
      for (const port of PORTS) {
        for (const [template, ops] of Object.entries<Json>(docs[port]!.paths)) {
          for (const [method, op] of Object.entries<Json>(ops)) {
            const params: Json[] = op.parameters ?? [];
            const path = (bad?: string) => template.replace(/\{([^}]+)\}/g, (_, name) => (name === bad ? 'abc%00' : '1'));
            const schema = op.requestBody?.content?.['application/json']?.schema;
            // Each case is a request that is right but for the one bad value.
            const good = schema ? sample(schema) : undefined;
            const cases: { field: string; path: string; body?: unknown }[] = [];
            for (const p of params.filter((p) => p.in === 'path')) cases.push({ field: p.name, path: path(p.name), body: good });
            for (const p of params.filter((p) => p.in === 'query')) cases.push({ field: p.name, path: `${path()}?${p.name}=abc%00`, body: good });
            if (schema) {
              for (const at of stringFields(schema)) {
                for (const bad of ['\u0000', '\ud800']) cases.push({ field: at.join('.'), path: path(), body: withValue(good, at, `12${bad}ab`) });
              }
            }
            for (const c of cases) {
              walked++;
              const headers: Record<string, string> = { ...auth(port, op, template), 'content-type': 'application/json' };
              const res = await fetch(url(port, c.path), { method: method.toUpperCase(), headers, body: c.body === undefined ? undefined : JSON.stringify(c.body) });
              const body = await res.json().catch(() => null);
              const named = typeof body?.hint === 'string' && body.hint.startsWith(`${c.field}: `) && /NUL|surrogate/.test(body.hint);
              if (res.status !== 400 || body?.result !== 'Bad Request' || !named) refused.push(`${port} ${method.toUpperCase()} ${c.path} ${JSON.stringify(c.body) ?? ''} → ${res.status} ${JSON.stringify(body)}`);
            }
          }
        }
      }
      expect(walked).toBeGreaterThan(50);
      expect(refused).toEqual([]);
    }, 60000);
  });

  describe('documents', () => {
    test('every port — Redocly lint (recommended rules) finds no error', () => {
      const { exitCode, output } = redoclyLint(Object.fromEntries(PORTS.map((p) => [`port-${p}`, docs[p]!])));
      expect({ exitCode, output: exitCode === 0 ? '' : output }).toEqual({ exitCode: 0, output: '' });
    }, 60000);

    test('every port — names its product and modules, has servers and security schemes, an example per error status, JSON Schema only', () => {
      checkDocument(docs[portOf.item!]!, 'homeshopping', ['item']);
      checkDocument(docs[portOf.alarm!]!, 'homeshopping', ['alarm']);
      checkDocument(docs[portOf.user!]!, 'homeshopping', ['user']);
      checkDocument(docs[portOf.minifb!]!, 'minifb', ['account', 'feed', 'notification', 'stats']);
      const fb = docs[portOf.minifb!]!.paths;
      expect(fb['/auth'].post.security).toEqual([]);
      expect(fb['/me'].get.security).toEqual([{ bearerAuth: [] }]);
      expect(fb['/refresh'].post.security).toEqual([{ refreshToken: [] }]);
      expect(fb['/signup'].post.responses['409'].content['application/json'].example).toEqual({ result: 'Conflict', hint: "id: 'alice' is taken" });
      expect(fb['/post'].post.responses['413'].content['application/json'].example.result).toBe('Payload Too Large');
      expect(fb['/metrics'].get.responses['200'].content['text/plain']).toBeDefined();
      expect(fb['/notification'].get.responses['200'].content['application/json'].schema.properties.items.items.properties.type).toEqual({ type: 'integer', enum: [1, 2] });
    });

    test('every port — /docs works offline: the page loads only its own assets, which the port serves', async () => {
      for (const port of PORTS) {
        const page = await (await fetch(url(port, '/docs'))).text();
        expect(page).not.toMatch(/(src|href)=["']?(https?:)?\/\//);
        const assets = [...page.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
        expect(assets.sort()).toEqual(['/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css']);
        for (const asset of assets) {
          const res = await fetch(url(port, asset));
          expect({ port, asset, status: res.status, size: (await res.arrayBuffer()).byteLength > 10_000 }).toEqual({ port, asset, status: 200, size: true });
        }
      }
    });
  });
});

describe('split: minifb processes each document their own routes', () => {
  let fb: Minifb;
  beforeAll(async () => {
    fb = await startMinifb({ backend: 'split', env: { CORS_ORIGINS: ORIGIN } });
  }, 120000);
  afterAll(async () => {
    await fb?.stop();
  }, 60000);

  test('every process — its document names minifb and its module, and Redocly lint finds no error', async () => {
    const docs: Record<string, Json> = {};
    for (const [name, p] of fb.processes) docs[name] = await (await fetch(`http://127.0.0.1:${p.plan.port}/openapi.json`)).json();
    expect(Object.keys(docs).sort()).toEqual(['account', 'feed', 'feed-2', 'notification', 'stats']);
    for (const [name, doc] of Object.entries(docs)) checkDocument(doc, 'minifb', [fb.processes.get(name)!.plan.module]);
    const { exitCode, output } = redoclyLint(docs);
    expect({ exitCode, output: exitCode === 0 ? '' : output }).toEqual({ exitCode: 0, output: '' });
  }, 60000);

  test('every process and the proxy — /healthz and /readyz 200 without a token; every process\'s /metrics passes promtool check metrics', async () => {
    for (const port of [...[...fb.processes.values()].map((p) => p.plan.port), fb.port]) {
      for (const [path, status] of [['/healthz', 'alive'], ['/readyz', 'ready']] as const) {
        const res = await fetch(`http://127.0.0.1:${port}${path}`);
        expect({ port, path, status: res.status, body: await res.json() }).toEqual({ port, path, status: 200, body: { status } });
      }
    }
    for (const [name, p] of fb.processes) {
      const text = await (await fetch(`http://127.0.0.1:${p.plan.port}/metrics`)).text();
      expect(text).toContain(`api="${p.plan.module}"`);
      const run = Bun.spawnSync(['promtool', 'check', 'metrics'], { stdin: Buffer.from(text), stdout: 'pipe', stderr: 'pipe' });
      expect({ name, exitCode: run.exitCode, output: run.stdout.toString() + run.stderr.toString() }).toEqual({ name, exitCode: 0, output: '' });
    }
  });

  test('every process and the proxy — preflights are answered before authentication, for the allowed origin only', async () => {
    const ports = [...[...fb.processes.values()].map((p) => p.plan.port), fb.port];
    for (const port of ports) {
      const preflight = (origin: string) => fetch(`http://127.0.0.1:${port}/post`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
      const allowed = await preflight(ORIGIN);
      const other = await preflight('https://elsewhere.example.com');
      expect({ port, allowed: [allowed.status, allowed.headers.get('access-control-allow-origin')], other: other.headers.get('access-control-allow-origin') }).toEqual({ port, allowed: [204, ORIGIN], other: null });
    }
  });
});
