import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort } from './support/split.ts';

/**
 * The process as an operator starts and stops it: `bun platform/main.ts`, a real child process on
 * real ports with its own DATA_DIR (embedded databases, the in-process bus).
 */
const MAIN = join(import.meta.dir, '..', 'platform', 'main.ts');
const MINIFB = ['account', 'feed', 'notification', 'stats'];
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Env for minifb's four modules on one free port (or `port`). */
function minifbEnv(port: number, extra: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'lifecycle-'));
  dirs.push(dir);
  return {
    ...process.env,
    MODULES: MINIFB.join(','),
    DATA_DIR: dir,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...Object.fromEntries(MINIFB.map((m) => [`${m.toUpperCase()}_PORT`, String(port)])),
    ...extra,
  };
}

async function startMinifbProcess(extra: Record<string, string> = {}) {
  const port = freePort();
  const proc = Bun.spawn(['bun', MAIN], { env: minifbEnv(port, extra), stdout: 'ignore', stderr: 'pipe' });
  const base = `http://127.0.0.1:${port}`;
  await eventually(async () => (await fetch(`${base}/openapi.json`)).ok, 60000, 'minifb process up');
  const signup = await fetch(`${base}/signup`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'alice', pw: 'alice-password', name: 'Alice' }) });
  expect(signup.status).toBe(201);
  return { proc, base };
}

/** `count` logins in flight at once (each ~40 ms of hashing, more with the others). */
const logins = (base: string, count: number) =>
  Array.from({ length: count }, () =>
    fetch(`${base}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'alice', pw: 'alice-password' }) }).then(
      async (res) => ({ status: res.status, token: typeof (await res.json()).accessToken === 'string' }),
      (error: Error) => ({ status: 0, token: false, error: error.message }),
    ),
  );

/**
 * A minifb process with SHUTDOWN_GRACE_MS=`graceMs`, sent `count` logins, and SIGTERM once one of
 * them is answered: by then every request has been sent and the rest are in flight.
 */
async function sigtermWithLogins(graceMs: number, count: number) {
  const { proc, base } = await startMinifbProcess({ SHUTDOWN_GRACE_MS: String(graceMs) });
  const inFlight = logins(base, count);
  await Promise.race(inFlight);
  const signalled = performance.now();
  proc.kill('SIGTERM');
  return { proc, base, inFlight, signalled };
}

describe('stopping', () => {
  test('SIGTERM with 40 logins in flight — all 40 are answered in full, the port stops accepting, the process exits 0', async () => {
    // A generous grace period: this is about draining, on a busy machine.
    const { proc, base, inFlight, signalled } = await sigtermWithLogins(60000, 40);
    const answers = await Promise.all(inFlight);
    expect(answers.filter((a) => a.status === 200 && a.token).length).toBe(40);
    expect(await proc.exited).toBe(0);
    const stderr = await new Response(proc.stderr).text();
    expect(stderr).not.toContain('cut');
    expect(await fetch(`${base}/openapi.json`).then(() => 'answered', () => 'refused')).toBe('refused');
    console.info(`40 logins in flight at SIGTERM: answered and exited 0 in ${Math.round(performance.now() - signalled)} ms`);
  }, 150000);

  test('SIGINT with nothing in flight — exits 0 at once, an idle keep-alive connection does not hold it', async () => {
    const { proc, base } = await startMinifbProcess();
    expect((await fetch(`${base}/openapi.json`)).ok).toBe(true); // leaves a kept-alive connection
    const signalled = performance.now();
    proc.kill('SIGINT');
    expect(await proc.exited).toBe(0);
    expect(performance.now() - signalled).toBeLessThan(5000);
  }, 120000);

  test('SIGTERM right after a burst of requests — every line logged is in stderr, each request\'s line and the last, "stopped", included', async () => {
    const { proc, base } = await startMinifbProcess({ LOG_LEVEL: 'info' });
    const ids = Array.from({ length: 400 }, (_, n) => `burst-${n}`);
    for (let i = 0; i < ids.length; i += 50) {
      await Promise.all(ids.slice(i, i + 50).map((id) => fetch(`${base}/nowhere`, { headers: { 'x-request-id': id } }).then((r) => r.arrayBuffer())));
    }
    proc.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
    const lines = (await new Response(proc.stderr).text()).trim().split('\n').map((l) => JSON.parse(l) as { msg: string; reqId?: string; status?: number });
    const logged = new Set(lines.filter((l) => l.msg === 'request' && l.status === 404).map((l) => l.reqId));
    expect(ids.filter((id) => !logged.has(id))).toEqual([]);
    expect(lines.at(-1)!.msg).toBe('stopped');
  }, 120000);

  test('the whole stop is bounded by SHUTDOWN_GRACE_MS — requests still running then are cut, and the process still exits', async () => {
    // More logins than a second of hashing answers on this machine.
    const { proc, inFlight, signalled } = await sigtermWithLogins(1000, 100);
    const code = await proc.exited;
    const took = performance.now() - signalled;
    const answers = await Promise.all(inFlight);
    expect([0, 1]).toContain(code);
    expect(took).toBeLessThan(4000);
    expect(answers.some((a) => a.status !== 200)).toBe(true);
    expect(await new Response(proc.stderr).text()).toContain('requests still in flight at the end of the grace period were cut');
  }, 150000);
});

describe('a port in use', () => {
  for (const [product, modules, variable] of [
    ['homeshopping', ['item', 'alarm', 'user'], 'ITEM_PORT'],
    ['minifb', MINIFB, 'ACCOUNT_PORT'],
  ] as const) {
    test(`${product} — a port already taken (even with SO_REUSEPORT) stops the process with exit 1 and one line naming the port`, async () => {
      const taken = freePort();
      // What the second `bun run start` met before: a listener that allows sharing the port.
      const occupant = Bun.serve({ port: taken, hostname: '127.0.0.1', reusePort: true, fetch: () => new Response('the first process') });
      try {
        const dir = mkdtempSync(join(tmpdir(), 'lifecycle-'));
        dirs.push(dir);
        const ports = Object.fromEntries(modules.map((m) => [`${m.toUpperCase()}_PORT`, m === modules[0] || product === 'minifb' ? String(taken) : String(freePort())]));
        const run = Bun.spawn(['bun', MAIN], { env: { ...process.env, MODULES: modules.join(','), DATA_DIR: dir, HOST: '127.0.0.1', LOG_LEVEL: 'error', ...ports }, stdout: 'pipe', stderr: 'pipe' });
        expect(await run.exited).toBe(1);
        const lines = (await new Response(run.stderr).text()).trim().split('\n');
        expect(lines).toHaveLength(1);
        expect(lines[0]).toContain(`port ${taken} is already in use`);
        expect(lines[0]).toContain(variable);
        // Every request still reaches the first process.
        for (let i = 0; i < 10; i++) expect(await (await fetch(`http://127.0.0.1:${taken}/`)).text()).toBe('the first process');
      } finally {
        occupant.stop(true);
      }
    }, 90000);
  }
});
