import { describe, expect, test } from 'bun:test';
import { decodeCopyField, parseDump } from './pg-dump.ts';

describe('pg_dump text loader', () => {
  test('decodes \\N as NULL and backslash escapes as Postgres does', () => {
    expect(decodeCopyField('\\N')).toBeNull();
    expect(decodeCopyField('a\\tb\\nc\\\\d')).toBe('a\tb\nc\\d');
    expect(decodeCopyField('\\x41\\101')).toBe('AA');
    expect(decodeCopyField('trailing ')).toBe('trailing ');
  });

  test('splits statements and COPY blocks in file order, keeping trailing spaces and CRLF-free values', () => {
    const dump = [
      'CREATE TABLE public.t (id int, name text);',
      'COPY public.t (id, name) FROM stdin;',
      '1\tone ',
      '2\t\\N\r',
      '\\.',
      "SELECT pg_catalog.setval('x', 2, true);",
    ].join('\n');
    const parts = parseDump(dump);
    expect(parts.map((p) => p.kind)).toEqual(['sql', 'copy', 'sql']);
    const copy = parts[1]!.kind === 'copy' ? parts[1]!.copy : undefined;
    expect(copy).toEqual({ table: 'public.t', columns: ['id', 'name'], rows: [['1', 'one '], ['2', null]] });
  });

  test('an empty COPY block gives no rows', () => {
    const parts = parseDump('COPY public.alarm (id, item_id) FROM stdin;\n\\.\n');
    expect(parts).toEqual([{ kind: 'copy', copy: { table: 'public.alarm', columns: ['id', 'item_id'], rows: [] } }]);
  });
});
