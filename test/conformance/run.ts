/**
 * The kits' command line.
 *
 *   bun run conformance <base-url> [--admin-id ID --admin-password PW] [--only SECTIONS] [--junit FILE] [--wait-ms MS]
 *   bun run conformance:shop <item-url> <alarm-url> <user-url> --token T [--only SECTIONS] [--junit FILE]
 *
 * One line per check (`ok` or `FAIL` with the request and the answer that failed), a summary,
 * exit status 0 when every check held, 1 when one failed, 2 when the command was wrong.
 */
import { parseArgs } from 'node:util';
import { shopChecks, ShopContext } from './homeshopping/index.ts';
import { junit, runAll, select, summaryLine, urlTransport, type Check, type Recorder } from './kit.ts';
import { minifbAliases, minifbChecks, MinifbContext } from './minifb/index.ts';

const USAGE = `usage:
  bun run conformance <base-url> [--admin-id ID --admin-password PW] [--only SECTIONS] [--junit FILE] [--wait-ms MS]
  bun run conformance:shop <item-url> <alarm-url> <user-url> --token T [--only SECTIONS] [--junit FILE]`;

interface Kit<C extends { recorder: Recorder }> {
  name: string;
  checks: Check<C>[];
  ctx: C;
  /** Where --junit asked for the report. */
  junit?: string;
  cleanUp(): Promise<string>;
}

function usage(message: string): never {
  console.error(`${message}\n${USAGE}`);
  process.exit(2);
}

function kitFor(args: string[]): Kit<any> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      only: { type: 'string' },
      junit: { type: 'string' },
      'admin-id': { type: 'string' },
      'admin-password': { type: 'string' },
      'wait-ms': { type: 'string' },
      token: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) usage('');
  const [kit, ...urls] = positionals;
  for (const url of urls) if (!URL.canParse(url)) usage(`not a URL: ${url}`);
  if (kit === 'minifb') {
    if (urls.length !== 1) usage('conformance takes one base URL');
    const admin = values['admin-id'] !== undefined || values['admin-password'] !== undefined ? { id: values['admin-id'] ?? '', pw: values['admin-password'] ?? '' } : undefined;
    if (admin && (!admin.id || !admin.pw)) usage('--admin-id and --admin-password go together');
    const waitMs = values['wait-ms'] === undefined ? undefined : Number(values['wait-ms']);
    if (waitMs !== undefined && !(waitMs > 0)) usage('--wait-ms must be a number of milliseconds');
    let checks = select(minifbChecks, values.only, minifbAliases);
    if (!admin) {
      if (values.only?.split(',').includes('admin')) usage('the admin section needs --admin-id and --admin-password');
      const skipped = checks.filter((c) => c.section === 'admin').length;
      if (skipped) console.log(`(the admin section's ${skipped} checks are not run: give --admin-id and --admin-password)`);
      checks = checks.filter((c) => c.section !== 'admin');
    }
    const ctx = new MinifbContext({ transport: urlTransport(urls[0]!), admin, waitMs });
    return { name: 'minifb', checks, ctx, junit: values.junit, cleanUp: async () => `clean-up: deleted ${(await ctx.cleanUp()).length} posts of the kit's (accounts cannot be deleted through the API)` };
  }
  if (kit === 'shop') {
    if (urls.length !== 3) usage('conformance:shop takes the item, alarm and user URLs');
    if (!values.token) usage('conformance:shop needs --token T (a user of the user API)');
    const [item, alarm, user] = urls.map(urlTransport) as [ReturnType<typeof urlTransport>, ReturnType<typeof urlTransport>, ReturnType<typeof urlTransport>];
    const ctx = new ShopContext({ item, alarm, user, token: values.token });
    return { name: 'homeshopping', checks: select(shopChecks, values.only), ctx, junit: values.junit, cleanUp: async () => `clean-up: put back the alarms of ${await ctx.cleanUp()} users (visits cannot be removed through the API)` };
  }
  return usage(`unknown kit ${kit ?? '(none)'}`);
}

let kit: Kit<any>;
try {
  kit = kitFor(Bun.argv.slice(2));
} catch (error) {
  usage(error instanceof Error ? error.message : String(error));
}
const started = performance.now();
const results = await runAll(kit.checks, kit.ctx, (line) => console.log(line));
console.log(await kit.cleanUp().catch((error) => `clean-up failed: ${error instanceof Error ? error.message : error}`));
console.log(summaryLine(kit.name, results, performance.now() - started));
if (kit.junit) await Bun.write(kit.junit, junit(kit.name, results));
process.exit(results.every((r) => r.ok) ? 0 : 1);
