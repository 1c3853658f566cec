/**
 * Loads a plain-text pg_dump file (statements plus `COPY ... FROM stdin` blocks) through any
 * SQL executor. The Postgres image's entrypoint feeds such a file to psql; PGlite has no psql,
 * so the embedded mode (and the local split command) use this loader instead, with the same
 * result: one statement stream, COPY rows inserted as parameterised INSERTs.
 */
export interface SqlRunner {
  /** Runs one or more statements without parameters. */
  exec(sql: string): Promise<void>;
  /** Runs one parameterised statement. */
  query(sql: string, params: unknown[]): Promise<void>;
}

export interface CopyBlock {
  table: string;
  columns: string[];
  rows: (string | null)[][];
}

export type DumpPart = { kind: 'sql'; sql: string } | { kind: 'copy'; copy: CopyBlock };

const copyHead = /^COPY\s+([^\s(]+)\s*\(([^)]*)\)\s+FROM\s+stdin;\s*$/i;

/** Splits a dump into SQL chunks and COPY blocks, in file order. */
export function parseDump(text: string): DumpPart[] {
  const parts: DumpPart[] = [];
  const lines = text.split('\n');
  let sql: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    const head = copyHead.exec(line);
    if (!head) {
      sql.push(line);
      continue;
    }
    if (sql.join('\n').trim()) parts.push({ kind: 'sql', sql: sql.join('\n') });
    sql = [];
    const rows: (string | null)[][] = [];
    for (i++; i < lines.length && lines[i]!.replace(/\r$/, '') !== '\\.'; i++) {
      rows.push(lines[i]!.replace(/\r$/, '').split('\t').map(decodeCopyField));
    }
    parts.push({
      kind: 'copy',
      copy: { table: head[1]!, columns: head[2]!.split(',').map((c) => c.trim()), rows },
    });
  }
  if (sql.join('\n').trim()) parts.push({ kind: 'sql', sql: sql.join('\n') });
  return parts;
}

const byteEscape = String.raw`(?:x[0-9a-fA-F]{1,2}|[0-7]{1,3})`;
/** One escape: a run of byte escapes (`\xC3\xA9`, `\303\251`), or a backslash and one character. */
const escapes = new RegExp(String.raw`\\(${byteEscape}(?:\\${byteEscape})*|.)`, 'g');
const utf8 = new TextDecoder();

/** Decodes one field of COPY's text format: `\N` is NULL, backslash escapes as Postgres reads them. */
export function decodeCopyField(field: string): string | null {
  if (field === '\\N') return null;
  if (!field.includes('\\')) return field;
  return field.replace(escapes, (run: string, esc: string) => {
    if (/^(x[0-9a-fA-F]|[0-7])/.test(esc)) {
      // Hex and octal escapes name bytes, not characters: `\xC3\xA9` is é in a UTF-8 dump.
      const bytes = run.split('\\').slice(1).map((e) => (e[0] === 'x' ? parseInt(e.slice(1), 16) : parseInt(e, 8) & 0xff));
      return utf8.decode(new Uint8Array(bytes));
    }
    switch (esc) {
      case 'b': return '\b';
      case 'f': return '\f';
      case 'n': return '\n';
      case 'r': return '\r';
      case 't': return '\t';
      case 'v': return '\v';
      // Any other character (`\\`, and an `x` without hex digits) stands for itself, as in Postgres.
      default: return esc;
    }
  });
}

export async function loadDump(runner: SqlRunner, text: string): Promise<void> {
  for (const part of parseDump(text)) {
    if (part.kind === 'sql') {
      await runner.exec(part.sql);
      continue;
    }
    const { table, columns, rows } = part.copy;
    const cols = columns.join(', ');
    // Batches keep the statement under Postgres' parameter limit.
    for (let start = 0; start < rows.length; start += 500) {
      const batch = rows.slice(start, start + 500);
      const params: unknown[] = [];
      const tuples = batch.map((row) => `(${row.map((v) => (params.push(v), `$${params.length}`)).join(', ')})`);
      await runner.query(`INSERT INTO ${table} (${cols}) VALUES ${tuples.join(', ')}`, params);
    }
  }
}
