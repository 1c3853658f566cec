/**
 * The conformance kits inside `bun test`: each check of a kit becomes a test of its own (so a
 * failure names the check, the request and the answer), and a last test cleans up what the kit
 * made and proves it is gone.
 */
import { expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCheck, select, type Check, type Recorder } from '../conformance/kit.ts';
import { minifbAliases, minifbChecks, MinifbContext } from '../conformance/minifb/index.ts';
import { ADMIN, type Minifb } from './minifb.ts';
import { REPO_ROOT } from './shop.ts';

/** A check may take this long in a test (the longest walk 250 posts, split topology included). */
const CHECK_MS = 80_000;

export function conformanceTests<C extends { recorder: Recorder }>(kit: string, checks: readonly Check<C>[], ctx: () => C) {
  expect(checks.length).toBeGreaterThan(0);
  for (const check of checks) {
    test(`${kit} ${check.section}: ${check.name}`, async () => {
      const result = await runCheck(check, ctx(), CHECK_MS);
      if (!result.ok) throw new Error(`${check.section}: ${check.name}\n${result.failure}`);
    }, CHECK_MS + 5_000);
  }
}

/**
 * The minifb kit's `sections` against `fb` (started by the caller's beforeAll), with the
 * administrator of our test systems; then the clean-up, checked: every post it made is gone.
 */
export function minifbConformance(sections: string, fb: () => Minifb) {
  let ctx: MinifbContext | undefined;
  const context = () => (ctx ??= new MinifbContext({ transport: (request) => fb().transport(request), admin: ADMIN }));
  conformanceTests('minifb kit', select(minifbChecks, sections, minifbAliases), context);
  test('minifb kit clean-up — deletes every post it made, and they are gone', async () => {
    const deleted = await context().cleanUp();
    expect(deleted.length).toBeGreaterThan(0);
    const token = await fb().user(`cleanup${crypto.randomUUID().slice(0, 8)}`);
    const found: number[] = [];
    for (const id of deleted) if ((await fb().call('GET', `/post/${id}`, { token })).status !== 404) found.push(id);
    expect(found).toEqual([]);
  }, 60_000);
}

/**
 * The README's command for `script` (`conformance`, `conformance:shop`), its URLs replaced by
 * `urls` in order: the arguments to give `bun run <script>`.
 */
export function readmeCommand(script: 'conformance' | 'conformance:shop', urls: string[]): string[] {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
  const line = readme.split('\n').find((l) => l.startsWith(`bun run ${script} `));
  if (!line) throw new Error(`the README shows no "bun run ${script}" command`);
  const args = line.trim().split(/\s+/).slice(3);
  let next = 0;
  const replaced = args.map((arg) => (/^http:\/\/localhost:\d+$/.test(arg) ? urls[next++]! : arg));
  if (next !== urls.length) throw new Error(`the README's ${script} command has ${next} URLs, not ${urls.length}`);
  return replaced;
}

/** `bun run <script> <args>` in the repository, as a reader would type it: exit status and output. */
export async function runScript(script: string, args: string[]) {
  const proc = Bun.spawn(['bun', 'run', '--silent', script, ...args], { cwd: REPO_ROOT, stdout: 'pipe', stderr: 'pipe' });
  const [stdout, stderr, exitCode] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { stdout, stderr, exitCode };
}

/** The checks a run printed as failed: `section: name`, sorted. */
export const failedLines = (stdout: string) =>
  [...stdout.matchAll(/^FAIL (\S+) +(.*) \(\d+ ms\)$/gm)].map((m) => `${m[1]}: ${m[2]}`).sort();
