import { describe, expect, test } from 'bun:test';
import { join } from 'node:path';

/** Runs `script` in a process of its own (the log goes to its stderr) and returns its lines. */
async function linesOf(script: string, env: Record<string, string> = {}) {
  const child = Bun.spawn(['bun', '-e', script], { cwd: join(import.meta.dir, '..', '..'), env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  expect({ code, stdout }).toEqual({ code: 0, stdout: expect.any(String) });
  return { stdout, raw: stderr.trim().split('\n'), lines: stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, any>) };
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

  test('a line names each key once: a field a child logger binds is not written again', async () => {
    const { raw, lines } = await linesOf(`
      import { createLogger } from ${LOG};
      const log = createLogger({ pid: 1 }).child({ module: 'probe' });
      log.info('migration', { module: 'probe', migration: 'm1' });
      log.child({ module: 'probe', stream: 's' }).info('consumed', { stream: 's', pid: 1 });
    `);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ module: 'probe', migration: 'm1', msg: 'migration' });
    expect(lines[1]).toMatchObject({ module: 'probe', stream: 's', msg: 'consumed' });
    for (const line of raw) for (const key of ['module', 'pid', 'stream']) expect({ line, times: line.split(`"${key}":`).length - 1 }).toEqual({ line, times: line.includes(`"${key}":`) ? 1 : 0 });
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

  test('a stderr nobody reads does not hold the process: lines past LOG_BUFFER_BYTES are dropped and counted, every line is written or counted, and the process exits', async () => {
    const child = Bun.spawn(
      [
        'bun',
        '-e',
        `
        import { createLogger, droppedLogLines } from ${LOG};
        const log = createLogger();
        let ticks = 0;
        const timer = setInterval(() => ticks++, 1);
        for (let round = 0; round < 20; round++) {
          for (let n = 0; n < 1000; n++) log.info('line', { round, n, pad: 'x'.repeat(150) });
          await Bun.sleep(5);
        }
        clearInterval(timer);
        // After the log's own exit handler (registered when it was imported): what it dropped at exit counts.
        process.on('exit', () => require('node:fs').writeSync(1, JSON.stringify({ ticks, dropped: droppedLogLines() })));
        process.exit(0);
      `,
      ],
      { cwd: join(import.meta.dir, '..', '..'), env: { ...process.env, LOG_LEVEL: 'info', LOG_BUFFER_BYTES: '65536' }, stdout: 'pipe', stderr: 'pipe' },
    );
    // stderr is read only once the process has said what it dropped: until then, its pipe is full.
    const { ticks, dropped } = JSON.parse(await new Response(child.stdout).text());
    expect(await child.exited).toBe(0);
    // (a chunk under way at exit may have reached stderr in part: its last line cut, and counted)
    const lines = (await new Response(child.stderr).text()).split('\n').filter((l) => l.endsWith('}'));
    const written = lines.flatMap((l) => {
      try {
        return [JSON.parse(l) as { round: number; n: number }];
      } catch {
        return [];
      }
    });
    expect(dropped).toBeGreaterThan(0);
    // Every line written or counted: none lost without a trace (one under way at exit may be both).
    expect(written.length + dropped).toBeGreaterThanOrEqual(20_000);
    expect(written.length).toBeLessThanOrEqual(20_000);
    // In order: what was written is a subsequence of what was logged.
    const rank = written.map((l) => l.round * 1000 + l.n);
    expect(rank.every((r, i) => i === 0 || r > rank[i - 1]!)).toBe(true);
    // The event loop went on while stderr was full (timers ran during the 20 rounds).
    expect(ticks).toBeGreaterThan(10);
  }, 30000);
});
