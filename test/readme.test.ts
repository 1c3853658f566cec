import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RunningSystem } from '../platform/runtime.ts';
import { embeddedForSuite } from './support/embedded.ts';

/**
 * The README's curl examples, run in order against the embedded app: they give what they say.
 * In an expected answer "…" stands for any value (a token, a timestamp); `$TOKEN` in a command
 * is the access token of the last log-in example, as the README tells the reader to keep it.
 */
const readme = readFileSync(join(import.meta.dir, '..', 'README.md'), 'utf8');
const sections = [...readme.matchAll(/<!-- readme-examples[^>]*-->([\s\S]*?)<!-- \/readme-examples -->/g)].map((m) => m[1]!);
const blocks = sections.flatMap((section) => [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.trim()));
const variables: Record<string, string> = {};

/** `expected` with every "…" replaced by what `actual` has there. */
function wildcards(expected: unknown, actual: unknown): unknown {
  if (expected === '…') return actual;
  if (Array.isArray(expected)) return expected.map((e, i) => wildcards(e, Array.isArray(actual) ? actual[i] : undefined));
  if (expected && typeof expected === 'object') {
    return Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, wildcards(v, (actual as Record<string, unknown> | null)?.[k])]));
  }
  return expected;
}

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
  const words = [...command!.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
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
  embeddedForSuite({}, { listen: false }, (started) => (system = started));

  test('there are examples for every port: homeshopping and minifb', () => {
    const ports = new Set(blocks.map((b) => parse(b).port));
    expect([...ports].sort()).toEqual([5001, 6001, 7001, 8000]);
  });

  for (const block of blocks) {
    const ex = parse(block);
    test(`${ex.method} ${ex.port}${ex.path} answers ${ex.status} as documented`, async () => {
      const headers = Object.fromEntries(Object.entries(ex.headers).map(([k, v]) => [k, v.replace(/\$(\w+)/g, (_, name: string) => variables[name] ?? `$${name}`)]));
      const res = await system.handle(ex.port, new Request(`http://localhost${ex.path}`, { method: ex.method, headers, body: ex.body }));
      const body = (await res.json()) as Record<string, unknown>;
      if (typeof body.accessToken === 'string') variables.TOKEN = body.accessToken;
      expect({ status: res.status, body }).toEqual({ status: ex.status, body: wildcards(ex.response, body) as Record<string, unknown> });
    });
  }

  test('the examples are all run: none of them was skipped by the parser', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(15);
    expect(variables.TOKEN).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
  });
});
