import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allModules } from '../modules/index.ts';
import { parseConfig } from '../platform/config.ts';
import { startSystem, type RunningSystem } from '../platform/runtime.ts';

/** The README's curl examples, run in order against the embedded app: they give what they say. */
const readme = readFileSync(join(import.meta.dir, '..', 'README.md'), 'utf8');
const section = readme.split('<!-- readme-examples')[1]!.split('<!-- /readme-examples -->')[0]!;
const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim());

interface Example {
  command: string;
  method: string;
  port: number;
  path: string;
  headers: Record<string, string>;
  body?: string;
  status: number;
  response: unknown;
}

function parse(block: string): Example {
  const [command, expected] = block.split('\n');
  const words = [...command!.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  const ex: Partial<Example> = { command, method: 'GET', headers: {} };
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-X') ex.method = words[++i];
    else if (w === '-H') {
      const [k, ...v] = words[++i]!.split(':');
      ex.headers![k!.trim()] = v.join(':').trim();
    } else if (w === '-d') ex.body = words[++i];
    else if (w.startsWith('localhost:')) {
      const url = new URL(`http://${w}`);
      ex.port = Number(url.port);
      ex.path = url.pathname;
    }
  }
  const m = /^# (\d{3}) (.*)$/.exec(expected!)!;
  ex.status = Number(m[1]);
  ex.response = JSON.parse(m[2]!);
  return ex as Example;
}

describe('README examples', () => {
  let system: RunningSystem;
  let dataDir: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'readme-'));
    system = await startSystem(parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'warn' }, allModules), allModules, { listen: false });
  }, 60000);

  afterAll(async () => {
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }, 30000);

  test('there are examples for every homeshopping port', () => {
    const ports = new Set(blocks.map((b) => parse(b).port));
    expect([...ports].sort()).toEqual([5001, 6001, 7001]);
  });

  for (const block of blocks) {
    const ex = parse(block);
    test(`${ex.method} ${ex.port}${ex.path} answers ${ex.status} as documented`, async () => {
      const app = system.apps.get(ex.port)!;
      const res = await app.handle(
        new Request(`http://localhost${ex.path}`, { method: ex.method, headers: ex.headers, body: ex.body }),
      );
      expect({ status: res.status, body: await res.json() }).toEqual({ status: ex.status, body: ex.response });
    });
  }
});
