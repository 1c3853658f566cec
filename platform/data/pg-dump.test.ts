import { describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { scratchPlace } from '../../test/support/scratch.ts';
import { loadInitSqlIfEmpty, openDatabase } from './db.ts';
import { createLogger } from '../observability/log.ts';
import { loadDump, parseDump, type CopyBlock } from './pg-dump.ts';

const copyOf = (text: string, n = 0): CopyBlock => {
  const blocks = parseDump(text).filter((p) => p.kind === 'copy');
  const part = blocks[n];
  if (!part || part.kind !== 'copy') throw new Error(`no COPY block #${n}`);
  return part.copy;
};

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

  test("parseDump — reads table, columns and the block's lines as COPY's input, escapes untouched", () => {
    expect(copyOf(dump)).toEqual({ table: 'public.t', columns: ['id', 'name', 'note'], data: '1\tone \tplain\n2\t\\N\twith\\ttab\n3\t\t\n' });
    expect(copyOf(dump, 1)).toEqual({ table: 'public."user"', columns: ['id', 'name'], data: '7\t박규경\n' });
  });

  test('parseDump — reads a file with CRLF line ends as the same dump, no \\r left in any value', () => {
    const crlf = parseDump(dump.replaceAll('\n', '\r\n'));
    expect(crlf.filter((p) => p.kind === 'copy')).toEqual(parseDump(dump).filter((p) => p.kind === 'copy'));
    expect(JSON.stringify(crlf)).not.toContain('\\r');
  });

  test('parseDump — an empty COPY block gives no input', () => {
    expect(parseDump('COPY public.alarm (id, item_id, user_id, created) FROM stdin;\n\\.\n')).toEqual([
      { kind: 'copy', copy: { table: 'public.alarm', columns: ['id', 'item_id', 'user_id', 'created'], data: '' } },
    ]);
  });

  test("parseDump — reads the project's own dumps into lines as wide as their columns", () => {
    for (const module of ['item', 'user', 'alarm']) {
      const text = readFileSync(join(import.meta.dir, '..', '..', 'modules', module, 'init_database.sql'), 'utf8');
      const copy = copyOf(text);
      for (const line of copy.data.split('\n').slice(0, -1)) expect(line.split('\t')).toHaveLength(copy.columns.length);
    }
    const items = copyOf(readFileSync(join(import.meta.dir, '..', '..', 'modules', 'item', 'init_database.sql'), 'utf8'));
    expect(items.data.split('\n').length).toBeGreaterThan(100);
  });
});

describe("pg_dump loading, by the database's own COPY", () => {
  /** Every escape COPY's text format has, as pg_dump writes them, and what Postgres reads them as. */
  const DUMP = [
    "SET client_encoding = 'UTF8';",
    'CREATE TABLE public.t (id int, v text);',
    'COPY public.t (id, v) FROM stdin;',
    '1\t\\N',
    '2\t',
    '3\ta\\tb\\nc\\rd\\\\e',
    '4\t\\b\\f\\v',
    '5\tcaf\\xc3\\xa9 caf\\303\\251',
    '6\t  both  ',
    '7\t패션·잡화 ',
    '8\t\\\\N',
    '\\.',
    'CREATE TABLE public.empty (id int);',
    'COPY public.empty (id) FROM stdin;',
    '\\.',
    '',
  ].join('\n');
  const EXPECTED = [
    { id: 1, v: null },
    { id: 2, v: '' },
    { id: 3, v: 'a\tb\nc\rd\\e' },
    { id: 4, v: '\b\f\v' },
    { id: 5, v: 'café café' },
    { id: 6, v: '  both  ' },
    { id: 7, v: '패션·잡화 ' },
    { id: 8, v: '\\N' },
  ];

  for (const backend of ['pglite', 'pg'] as const) {
    test(`${backend} — statements run as they are; COPY blocks load through COPY, every escape read as Postgres reads it`, async () => {
      const { dir, url, drop } = await scratchPlace(backend);
      // Postgres is loaded as the local split command loads it (a CRLF file reads the same);
      // PGlite as the embedded mode does, when it opens an empty database.
      if (url) expect(await loadInitSqlIfEmpty(url, DUMP.replaceAll('\n', '\r\n'))).toBe(true);
      const database = await openDatabase({ module: 'dump', url, dataDir: dir, migrations: {}, log: createLogger(), initSql: DUMP });
      try {
        const { rows } = await sql<{ id: number; v: string | null }>`SELECT id, v FROM public.t ORDER BY id`.execute(database.db);
        expect(rows).toEqual(EXPECTED);
        expect((await sql`SELECT count(*)::int AS n FROM public.empty`.execute(database.db)).rows).toEqual([{ n: 0 }]);
        // A database that holds tables is left alone.
        if (url) expect(await loadInitSqlIfEmpty(url, DUMP)).toBe(false);
      } finally {
        await database.close();
        await drop();
      }
    }, 30000);
  }

  test('loadDump — stops at the first failing part', async () => {
    let ran = 0;
    const failing = { exec: async () => void ran++, copy: async () => Promise.reject(new Error('boom')) };
    await expect(loadDump(failing, 'COPY t (a) FROM stdin;\n1\n\\.\nSELECT 2;\n')).rejects.toThrow('boom');
    expect(ran).toBe(0);
  });
});
