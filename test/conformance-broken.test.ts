import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shopChecks } from './conformance/homeshopping/index.ts';
import type { Transport } from './conformance/kit.ts';
import { minifbChecks } from './conformance/minifb/index.ts';
import { failedLines, readmeCommand, runScript } from './support/conformance.ts';
import { startMinifb, type Minifb } from './support/minifb.ts';
import { startShop, type Shop } from './support/shop.ts';

/**
 * The kits catch what they should, and only that: a small server in front of ours breaks a few
 * rules of the contract (a list in the wrong order, a wrong status, an error without its hint),
 * and the README's commands, run against it, fail exactly the checks about those rules — every
 * other check passes through it. The output names the request and the answer that failed; the
 * summary, the exit status and the JUnit report agree.
 */

/** A rule the front breaks: which answers it touches, and what it makes of them. */
interface Breakage {
  applies(request: Request, answer: Response): boolean;
  rewrite(body: any): { status?: number; body: unknown };
}

/** Listens on a port of its own and forwards everything to `upstream`, breaking `breakages`. */
function front(upstream: Transport, breakages: Breakage[] = []) {
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      const answer = await upstream(request);
      const breakage = breakages.find((b) => b.applies(request, answer));
      if (!breakage) return answer;
      const { status, body } = breakage.rewrite(await answer.json());
      return Response.json(body, { status: status ?? answer.status });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
const pathOf = (request: Request) => new URL(request.url).pathname;
const summaryOf = (stdout: string) => stdout.trimEnd().split('\n').at(-1);
/** The run failed (exit 1, nothing on stderr), and these checks are the ones it printed as FAIL. */
function expectFailed(run: Awaited<ReturnType<typeof runScript>>, checks: string[]) {
  expect({ exitCode: run.exitCode, stderr: run.stderr }).toEqual({ exitCode: 1, stderr: '' });
  expect(failedLines(run.stdout)).toEqual([...checks].sort());
}

describe('minifb kit against a broken server', () => {
  let fb: Minifb;
  let broken: ReturnType<typeof front>;
  let faithful: ReturnType<typeof front>;
  const dir = mkdtempSync(join(tmpdir(), 'conformance-'));

  beforeAll(async () => {
    fb = await startMinifb({ backend: 'pglite' });
    const upstream: Transport = (request) => fb.transport(request);
    broken = front(upstream, [
      // Wrong order: every post, oldest first within a page.
      { applies: (req, res) => req.method === 'GET' && pathOf(req) === '/post' && res.status === 200, rewrite: (body) => ({ body: { ...body, items: [...body.items].reverse() } }) },
      // Wrong status: a wrong current password is 401 instead of 403 (a status the document allows there).
      { applies: (req, res) => req.method === 'PUT' && pathOf(req) === '/me/password' && res.status === 403, rewrite: (body) => ({ status: 401, body: { ...body, result: 'Unauthorized' } }) },
      // Missing hint: someone else's post or comment is refused without saying why.
      { applies: (req, res) => /^\/(post|comment)\/\d+$/.test(pathOf(req)) && res.status === 403, rewrite: ({ result }) => ({ body: { result } }) },
    ]);
    faithful = front(upstream);
  }, 90_000);

  afterAll(async () => {
    broken?.stop();
    faithful?.stop();
    await fb?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 30_000);

  test("the README's command fails exactly the checks of the broken rules, naming the request and the answer", async () => {
    const junitFile = join(dir, 'minifb.xml');
    const run = await runScript('conformance', [...readmeCommand('conformance', [broken.url]), '--junit', junitFile]);
    expectFailed(run, [
      'posts: list — every post, newest first, with myReaction for the caller',
      'pagination: pages — walking 250 posts 7 at a time while others are added gives each once, in order, none skipped',
      'accounts: password — 403 when the current password is wrong, 409 when the new one equals it',
      "authorization: someone else's post cannot be edited or deleted: 403 naming the method and the path as sent",
      "authorization: someone else's comment cannot be edited or deleted: 403 naming the method and the path",
    ]);
    // Every other check ran, and held.
    expect(run.stdout.match(/^ok {3}/gm)).toHaveLength(minifbChecks.length - 5);
    expect(summaryOf(run.stdout)).toMatch(new RegExp(`^minifb: ${minifbChecks.length} checks, ${minifbChecks.length - 5} ok, 5 FAIL \\(\\d+\\.\\d s\\)$`));
    // What each failure shows: what was expected, the request, the answer.
    expect(run.stdout).toMatch(/\nFAIL posts +list — every post.*\n {4}the newest two posts: .*\n {8}request: GET \/post\?limit=2 -H 'authorization: Bearer .*\n {8}answer: {2}200 \{"items":/);
    expect(run.stdout).toMatch(/\nFAIL accounts +password — 403.*\n {4}expected status 403, got 401\n {8}request: PUT \/me\/password .*"currentPw":"wrong password!".*\n {8}answer: {2}401 \{"result":"Unauthorized","hint":"currentPw: is not your current password"\}\n/);
    expect(run.stdout).toMatch(/\nFAIL authorization +someone else's post .*\n {4}against the contract: the body breaks the schema declared for 403 on PATCH \/post\/\{id\}: .*\n {8}request: PATCH \/post\/\d+ .*\n {8}answer: {2}403 \{"result":"Forbidden"\}\n/);
    expect(run.stdout).toMatch(/\nclean-up: deleted \d+ posts of the kit's/);
    const junit = readFileSync(junitFile, 'utf8');
    expect(junit).toContain(`<testsuites name="minifb conformance" tests="${minifbChecks.length}" failures="5"`);
    expect(junit.match(/<failure message=/g)).toHaveLength(5);
  }, 240_000);

  test('the same sections against the faithful server: every line ok, exit 0', async () => {
    const run = await runScript('conformance', [faithful.url, '--only', 'authorization,errors']);
    expect({ exitCode: run.exitCode, stderr: run.stderr, failed: failedLines(run.stdout) }).toEqual({ exitCode: 0, stderr: '', failed: [] });
    const selected = minifbChecks.filter((c) => c.section === 'authorization' || c.section === 'errors').length;
    expect(summaryOf(run.stdout)).toMatch(new RegExp(`^minifb: ${selected} checks, ${selected} ok, 0 FAIL`));
  }, 120_000);

  test('a wrong command is exit 2 with the usage', async () => {
    for (const args of [[], ['not a url'], [faithful.url, '--only', 'nothing-like-this'], [faithful.url, '--only', 'admin'], [faithful.url, '--admin-id', 'admin']]) {
      const run = await runScript('conformance', args);
      expect({ args, exitCode: run.exitCode, usage: run.stderr.includes('usage:') }).toEqual({ args, exitCode: 2, usage: true });
    }
    const shop = await runScript('conformance:shop', [faithful.url, faithful.url, faithful.url]);
    expect({ exitCode: shop.exitCode, hint: shop.stderr.includes('--token') }).toEqual({ exitCode: 2, hint: true });
  }, 30_000);
});

describe('homeshopping kit against a broken server', () => {
  let shop: Shop;
  const fronts: ReturnType<typeof front>[] = [];

  beforeAll(async () => {
    shop = await startShop({ backend: 'pglite' });
    fronts.push(
      front(shop.item.transport),
      // Wrong order: the alarm list ascending.
      front(shop.alarm.transport, [{ applies: (req, res) => req.method === 'GET' && res.status === 200, rewrite: (body) => ({ body: { ...body, payload: [...body.payload].reverse() } }) }]),
      // Missing hint: the user API refuses a token without saying why.
      front(shop.user.transport, [{ applies: (_, res) => res.status === 401, rewrite: ({ result }) => ({ body: { result } }) }]),
    );
  }, 60_000);

  afterAll(async () => {
    for (const f of fronts) f.stop();
    await shop?.stop();
  }, 30_000);

  test("the README's command fails exactly the checks of the broken rules, naming the API", async () => {
    const run = await runScript('conformance:shop', readmeCommand('conformance:shop', fronts.map((f) => f.url)));
    expectFailed(run, [
      'alarms: alarm set — accepts item_id as a JSON number and as a numeric string',
      'alarms: alarm list — is ordered by item id descending and shows items without is_alarm_set',
      'tokens: user GET / — answers 401 without USER-TOKEN',
      'tokens: user GET / — answers 401 to an unknown USER-TOKEN',
      'tokens: user GET /visit — answers 401 without USER-TOKEN',
      'tokens: user GET /visit — answers 401 to an unknown USER-TOKEN',
    ]);
    expect(summaryOf(run.stdout)).toMatch(new RegExp(`^homeshopping: ${shopChecks.length} checks, ${shopChecks.length - 6} ok, 6 FAIL`));
    expect(run.stdout).toMatch(/\nFAIL tokens +user GET \/visit — answers 401 without USER-TOKEN .*\n {4}against the contract: .*\n {8}request: user GET \/visit\n {8}answer: {2}401 \{"result":"Unauthorized"\}\n/);
    expect(run.stdout).toMatch(/\nFAIL alarms +alarm list — is ordered .*\n {4}body \/payload\/0\/id: expected \d+, got \d+\n {8}request: alarm GET \/ -H 'USER-TOKEN: .*'\n {8}answer: {2}200 \{"count":/);
    expect(run.stdout).toMatch(/\nclean-up: put back the alarms of \d+ users/);
  }, 60_000);
});
