import { describe, expect, test } from 'bun:test';
import { edge } from './edge.ts';

/** The port's edge alone, in front of an app that echoes what reached it. */
const reached: { method: string; body: string }[] = [];
const app = async (request: Request) => {
  const body = await request.text();
  reached.push({ method: request.method, body });
  return new Response(JSON.stringify({ got: body.length }), { headers: { 'content-type': 'application/json' } });
};
const APP = 'https://app.example.com';
const preflight = (origin: string, path = '/me') =>
  new Request(`http://localhost${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } });
const stream = (chunks: number, size: number) =>
  new ReadableStream<Uint8Array>({
    pull(controller) {
      if (chunks-- <= 0) return controller.close();
      controller.enqueue(new Uint8Array(size).fill(120));
    },
  });

describe('the edge: CORS', () => {
  const handler = edge(app, { maxBodyBytes: 1024, corsOrigins: [APP, 'http://localhost:3000'] });

  test('CORS — an allowed origin\'s preflight is answered at once: 204 with the methods and USER-TOKEN, Authorization, Content-Type', async () => {
    reached.length = 0;
    const res = await handler(preflight(APP));
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('access-control-allow-headers')).toBe('USER-TOKEN, Authorization, Content-Type');
    expect(res.headers.get('access-control-allow-methods')).toContain('PATCH');
    expect(res.headers.get('vary')).toBe('Origin');
    expect(reached).toEqual([]); // the app (its authentication) never saw it
  });

  test('CORS — another origin\'s preflight gets no allow header', async () => {
    for (const origin of ['https://evil.example.com', 'https://app.example.com.evil.com', 'null']) {
      const res = await handler(preflight(origin));
      expect({ origin, status: res.status, allow: res.headers.get('access-control-allow-origin'), headers: res.headers.get('access-control-allow-headers') }).toEqual({ origin, status: 204, allow: null, headers: null });
    }
  });

  test('CORS — an allowed origin\'s request is answered with its origin allowed; others, and requests without Origin, unchanged', async () => {
    const allowed = await handler(new Request('http://localhost/me', { headers: { origin: 'http://localhost:3000' } }));
    expect(allowed.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');
    expect(allowed.headers.get('vary')).toContain('Origin');
    expect(await allowed.json()).toEqual({ got: 0 });
    for (const headers of [{ origin: 'https://evil.example.com' }, {}] as Record<string, string>[]) {
      expect((await handler(new Request('http://localhost/me', { headers }))).headers.get('access-control-allow-origin')).toBeNull();
    }
  });

  test('CORS — an OPTIONS request that is no preflight (no Access-Control-Request-Method) goes to the app', async () => {
    reached.length = 0;
    await handler(new Request('http://localhost/me', { method: 'OPTIONS', headers: { origin: APP } }));
    expect(reached.map((r) => r.method)).toEqual(['OPTIONS']);
  });

  test('CORS — no CORS_ORIGINS allows no origin; `*` allows any', async () => {
    expect((await edge(app, { maxBodyBytes: 1024, corsOrigins: [] })(preflight(APP))).headers.get('access-control-allow-origin')).toBeNull();
    expect((await edge(app, { maxBodyBytes: 1024, corsOrigins: ['*'] })(preflight('https://anyone.example'))).headers.get('access-control-allow-origin')).toBe('https://anyone.example');
  });
});

describe('the edge: body limit', () => {
  const handler = edge(app, { maxBodyBytes: 1024, corsOrigins: [] });
  const post = (body: BodyInit, headers: Record<string, string> = {}) => handler(new Request('http://localhost/post', { method: 'POST', body, headers }));

  test('body limit — a Content-Length over the limit is 413 in the envelope, and the app never reads it', async () => {
    reached.length = 0;
    const res = await post('x'.repeat(1025), { 'content-length': '1025' });
    expect(res.status).toBe(413);
    expect(res.headers.get('connection')).toBe('close');
    expect(await res.json()).toEqual({ result: 'Payload Too Large', hint: 'the request body must be at most 1024 bytes' });
    expect(reached).toEqual([]);
  });

  test('body limit — a body without Content-Length (chunked) is read only up to the limit, then 413', async () => {
    reached.length = 0;
    let pulled = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(100).fill(120));
      },
    });
    const res = await post(endless);
    expect(res.status).toBe(413);
    expect((await res.json()).result).toBe('Payload Too Large');
    expect(pulled).toBeLessThan(20); // 1024 bytes are 11 chunks: it stopped there
    expect(reached).toEqual([]);
  });

  test('body limit — bodies up to the limit reach the app whole, with or without Content-Length', async () => {
    reached.length = 0;
    expect(await (await post('y'.repeat(1024), { 'content-length': '1024' })).json()).toEqual({ got: 1024 });
    expect(await (await post(stream(8, 128))).json()).toEqual({ got: 1024 });
    expect(reached.map((r) => r.body)).toEqual(['y'.repeat(1024), 'x'.repeat(1024)]);
  });
});
