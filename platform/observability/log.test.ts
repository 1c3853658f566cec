import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';

/** Runs `script` in a process of its own (the log goes to its stderr) and returns its lines. */
async function linesOf(script: string, env: Record<string, string> = {}) {
  const child = Bun.spawn(['bun', '-e', script], { cwd: join(import.meta.dir, '..', '..'), env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ code, stdout }).toEqual({ code: 0, stdout: expect.any(String) });
  return { stdout, lines: stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>) };
}

const LOG = JSON.stringify(join(import.meta.dir, 'log.ts'));
const CONTEXT = JSON.stringify(join(import.meta.dir, 'request-context.ts'));
const ROUTES = JSON.stringify(join(import.meta.dir, '..', 'http', 'routes.ts'));
const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';

describe('log', () => {
  test('one JSON line per call on stderr, at the level asked for; an error keeps its stack and its cause', async () => {
    const { lines } = await linesOf(`
      import { createLogger } from ${LOG};
      const log = createLogger({ pid: 1 }).child({ module: 'probe' });
      log.debug('not at info');
      const cause = new Error('connection refused');
      log.error('query failed', { error: new Error('could not read', { cause }) });
      log.warn('also any field', { reason: new TypeError('bad') });
    `);
    expect(lines).toHaveLength(2);
    const [failed, warned] = lines as [Record<string, any>, Record<string, any>];
    expect(failed).toMatchObject({ level: 'error', msg: 'query failed', pid: 1, module: 'probe', error: { type: 'Error', message: 'could not read', cause: { message: 'connection refused' } } });
    expect(failed.error.stack).toContain('Error: could not read\n    at ');
    expect(failed.error.cause.stack).toContain('Error: connection refused');
    expect(new Date(failed.time).getTime()).toBeGreaterThan(0);
    expect(warned).toMatchObject({ level: 'warn', reason: { type: 'TypeError', message: 'bad' } });
  });

  test('credentials are redacted by name, and anything shaped like a JWT is cut out of every text', async () => {
    const { lines } = await linesOf(`
      import { createLogger } from ${LOG};
      const log = createLogger();
      log.info('sign-up', { pw: 'hunter2-hunter2', body: { id: 'a', pw: 'p1', currentPw: 'p2', newPw: 'p3' }, headers: { authorization: 'Bearer x', 'user-token': 'ut', 'content-type': 'application/json' } });
      log.info('the token ${JWT} came back', { hint: 'got ${JWT}', error: new Error('bad token ${JWT}') });
    `);
    expect(lines[0]).toMatchObject({ pw: '[redacted]', body: { id: 'a', pw: '[redacted]', currentPw: '[redacted]', newPw: '[redacted]' }, headers: { authorization: '[redacted]', 'user-token': '[redacted]', 'content-type': 'application/json' } });
    expect(lines[1]).toMatchObject({ msg: 'the token [jwt] came back', hint: 'got [jwt]', error: { message: 'bad token [jwt]' } });
    expect(JSON.stringify(lines)).not.toContain('eyJ');
  });

  test('a request: one line with method, route pattern, status, ms and request id, which every line written meanwhile carries', async () => {
    const { stdout, lines } = await linesOf(`
      import { createLogger } from ${LOG};
      import { observe } from ${CONTEXT};
      import { PortRoutes } from ${ROUTES};
      const log = createLogger();
      const handler = observe(async (request) => {
        log.warn('inside');
        return new Response('{}', { status: request.url.endsWith('/7') ? 200 : 404 });
      }, { routes: new PortRoutes(() => [{ method: 'GET', path: '/post/:id' }]), log });
      const a = await handler(new Request('http://x/post/7', { headers: { 'x-request-id': 'abc-1' } }));
      const b = await handler(new Request('http://x/nowhere?q=1'));
      console.log(JSON.stringify([a.headers.get('x-request-id'), b.headers.get('x-request-id'), a.headers.get('traceparent')]));
    `);
    const [first, second, traceparent] = JSON.parse(stdout);
    expect({ first, traceparent }).toEqual({ first: 'abc-1', traceparent: null });
    expect(second).toMatch(/^[0-9a-f-]{36}$/);
    expect(lines.map(({ msg, reqId, method, route, status }) => ({ msg, reqId, method, route, status }))).toEqual([
      { msg: 'inside', reqId: 'abc-1', method: undefined, route: undefined, status: undefined },
      { msg: 'request', reqId: 'abc-1', method: 'GET', route: '/post/{id}', status: 200 },
      { msg: 'inside', reqId: second, method: undefined, route: undefined, status: undefined },
      { msg: 'request', reqId: second, method: 'GET', route: null, status: 404 },
    ]);
    expect(typeof lines[1]!.ms).toBe('number');
  });
});
