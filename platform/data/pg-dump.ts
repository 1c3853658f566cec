/**
 * Loads a plain-text pg_dump file (statements plus `COPY ... FROM stdin` blocks). The Postgres
 * image's entrypoint feeds such a file to psql; PGlite has no psql, so the embedded mode (and the
 * local split command) use this loader instead, with the same result: the statements run as they
 * are, and each COPY block is handed to the database's own COPY — its text format (escapes,
 * `\N`) is read by Postgres, never by us.
 */
export interface DumpRunner {
  /** Runs one or more statements without parameters. */
  exec(sql: string): Promise<void>;
  /** Runs the database's `COPY <into> FROM …` with `data`, in COPY's text format, as its input. `into` is `<table> (<columns>)`. */
  copy(into: string, data: string): Promise<void>;
}

export interface CopyBlock {
  table: string;
  columns: string[];
  /** The block's lines, each ending in a newline, as COPY reads them. */
  data: string;
}

export type DumpPart = { kind: 'sql'; sql: string } | { kind: 'copy'; copy: CopyBlock };

const copyHead = /^COPY\s+([^\s(]+)\s*\(([^)]*)\)\s+FROM\s+stdin;\s*$/i;

/** Splits a dump into SQL chunks and COPY blocks, in file order. */
export function parseDump(text: string): DumpPart[] {
  const parts: DumpPart[] = [];
  const lines = text.split('\n').map((line) => line.replace(/\r$/, ''));
  let sql: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const head = copyHead.exec(lines[i]!);
    if (!head) {
      sql.push(lines[i]!);
      continue;
    }
    if (sql.join('\n').trim()) parts.push({ kind: 'sql', sql: sql.join('\n') });
    sql = [];
    let data = '';
    for (i++; i < lines.length && lines[i] !== '\\.'; i++) data += `${lines[i]}\n`;
    parts.push({ kind: 'copy', copy: { table: head[1]!, columns: head[2]!.split(',').map((c) => c.trim()), data } });
  }
  if (sql.join('\n').trim()) parts.push({ kind: 'sql', sql: sql.join('\n') });
  return parts;
}

export async function loadDump(runner: DumpRunner, text: string): Promise<void> {
  for (const part of parseDump(text)) {
    if (part.kind === 'sql') await runner.exec(part.sql);
    else if (part.copy.data !== '') await runner.copy(`${part.copy.table} (${part.copy.columns.join(', ')})`, part.copy.data);
  }
}
