import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeCopyField, loadDump, parseDump, type CopyBlock } from './pg-dump.ts';

const copyOf = (text: string, n = 0): CopyBlock => {
  const blocks = parseDump(text).filter((p) => p.kind === 'copy');
  const part = blocks[n];
  if (!part || part.kind !== 'copy') throw new Error(`no COPY block #${n}`);
  return part.copy;
};

describe('COPY field decoding', () => {
  test('decodeCopyField — reads \\N as NULL, and only a whole \\N', () => {
    expect(decodeCopyField('\\N')).toBeNull();
    expect(decodeCopyField('\\\\N')).toBe('\\N');
    expect(decodeCopyField('N')).toBe('N');
    expect(decodeCopyField('a\\N')).toBe('aN');
  });

  test('decodeCopyField — reads an empty field as the empty string, not NULL', () => {
    expect(decodeCopyField('')).toBe('');
  });

  test('decodeCopyField — decodes the backslash escapes Postgres writes', () => {
    expect(decodeCopyField('a\\tb')).toBe('a\tb');
    expect(decodeCopyField('line\\nnext')).toBe('line\nnext');
    expect(decodeCopyField('cr\\r')).toBe('cr\r');
    expect(decodeCopyField('\\b\\f\\v')).toBe('\b\f\v');
    expect(decodeCopyField('back\\\\slash')).toBe('back\\slash');
    expect(decodeCopyField('\\\\t')).toBe('\\t');
  });

  test('decodeCopyField — decodes octal and hex escapes; any other escaped character stands for itself', () => {
    expect(decodeCopyField('\\101\\x42\\x4')).toBe('AB\x04');
    expect(decodeCopyField('\\q\\x')).toBe('qx');
    expect(decodeCopyField('\\xg')).toBe('xg');
  });

  test('decodeCopyField — reads hex and octal escapes as UTF-8 bytes, as Postgres does', () => {
    expect(decodeCopyField('caf\\xc3\\xa9')).toBe('café');
    expect(decodeCopyField('caf\\303\\251')).toBe('café');
    expect(decodeCopyField('\\xea\\xb0\\x80 ')).toBe('가 ');
    expect(decodeCopyField('\\\\101')).toBe('\\101');
  });

  test('decodeCopyField — keeps leading and trailing spaces and multi-byte text as they are', () => {
    expect(decodeCopyField('trailing ')).toBe('trailing ');
    expect(decodeCopyField('  both  ')).toBe('  both  ');
    expect(decodeCopyField('패션·잡화 ')).toBe('패션·잡화 ');
  });
});

describe('pg_dump parsing', () => {
  const dump = [
    'SET client_encoding = \'UTF8\';',
    "SELECT pg_catalog.set_config('search_path', '', false);",
    'CREATE TABLE public.t (id int, name text, note text);',
    'COPY public.t (id, name, note) FROM stdin;',
    '1\tone \tplain',
    '2\t\\N\twith\\ttab',
    '3\t\t',
    '\\.',
    '',
    'COPY public."user" (id, name) FROM stdin;',
    '7\t박규경',
    '\\.',
    "SELECT pg_catalog.setval('public.t_id_seq', 3, true);",
    '',
  ].join('\n');

  test('parseDump — splits statements and COPY blocks in file order', () => {
    const parts = parseDump(dump);
    expect(parts.map((p) => p.kind)).toEqual(['sql', 'copy', 'copy', 'sql']);
    const first = parts[0]!;
    expect(first.kind === 'sql' && first.sql).toContain('CREATE TABLE public.t');
    expect(first.kind === 'sql' && first.sql).not.toContain('COPY');
    const last = parts[3]!;
    expect(last.kind === 'sql' && last.sql.trim()).toBe("SELECT pg_catalog.setval('public.t_id_seq', 3, true);");
  });

  test('parseDump — reads table, columns and rows of a COPY block, fields split on tabs', () => {
    expect(copyOf(dump)).toEqual({
      table: 'public.t',
      columns: ['id', 'name', 'note'],
      rows: [
        ['1', 'one ', 'plain'],
        ['2', null, 'with\ttab'],
        ['3', '', ''],
      ],
    });
    expect(copyOf(dump, 1)).toEqual({ table: 'public."user"', columns: ['id', 'name'], rows: [['7', '박규경']] });
  });

  test('parseDump — reads a file with CRLF line ends as the same dump, no \\r left in any value', () => {
    const crlf = parseDump(dump.replaceAll('\n', '\r\n'));
    expect(crlf.filter((p) => p.kind === 'copy')).toEqual(parseDump(dump).filter((p) => p.kind === 'copy'));
    expect(JSON.stringify(crlf)).not.toContain('\\r"');
    expect(copyOf(dump.replaceAll('\n', '\r\n')).rows[0]).toEqual(['1', 'one ', 'plain']);
  });

  test('parseDump — an empty COPY block gives no rows', () => {
    expect(parseDump('COPY public.alarm (id, item_id, user_id, created) FROM stdin;\n\\.\n')).toEqual([
      { kind: 'copy', copy: { table: 'public.alarm', columns: ['id', 'item_id', 'user_id', 'created'], rows: [] } },
    ]);
  });

  test("parseDump — reads the project's own dumps into rows as wide as their columns", () => {
    for (const module of ['item', 'user', 'alarm']) {
      const text = readFileSync(join(import.meta.dir, '..', 'modules', module, 'init_database.sql'), 'utf8');
      const copy = copyOf(text);
      for (const row of copy.rows) expect(row).toHaveLength(copy.columns.length);
    }
    const items = copyOf(readFileSync(join(import.meta.dir, '..', 'modules', 'item', 'init_database.sql'), 'utf8'));
    expect(items.rows.length).toBeGreaterThanOrEqual(100);
  });
});

describe('pg_dump loading', () => {
  test('loadDump — runs statements as they are and COPY rows as parameterised INSERTs, NULLs as NULL', async () => {
    const calls: { exec?: string; query?: string; params?: unknown[] }[] = [];
    await loadDump(
      { exec: async (s) => void calls.push({ exec: s }), query: async (s, p) => void calls.push({ query: s, params: p }) },
      'CREATE TABLE t (a int, b text);\nCOPY t (a, b) FROM stdin;\n1\tx \n2\t\\N\n\\.\nSELECT 1;\n',
    );
    expect(calls).toEqual([
      { exec: 'CREATE TABLE t (a int, b text);' },
      { query: 'INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)', params: ['1', 'x ', '2', null] },
      { exec: 'SELECT 1;\n' },
    ]);
  });

  test('loadDump — inserts a large COPY block in batches of at most 500 rows, in order', async () => {
    const rows = Array.from({ length: 1201 }, (_, i) => `${i + 1}\tname ${i + 1}`);
    const batches: unknown[][] = [];
    await loadDump(
      { exec: async () => {}, query: async (_, p) => void batches.push(p) },
      `COPY t (a, b) FROM stdin;\n${rows.join('\n')}\n\\.\n`,
    );
    expect(batches.map((b) => b.length / 2)).toEqual([500, 500, 201]);
    expect(batches.flat().filter((_, i) => i % 2 === 0)).toEqual(rows.map((_, i) => String(i + 1)));
  });

  test('loadDump — stops at the first failing statement', async () => {
    let ran = 0;
    const failing = { exec: async () => void ran++, query: async () => Promise.reject(new Error('boom')) };
    await expect(loadDump(failing, 'COPY t (a) FROM stdin;\n1\n\\.\nSELECT 2;\n')).rejects.toThrow('boom');
    expect(ran).toBe(0);
  });
});
