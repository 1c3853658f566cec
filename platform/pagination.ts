import { DomainError } from './errors.ts';

/**
 * Keyset pagination: a page is "`limit` rows after this id", never an offset, so a deep page
 * costs what the first does and rows added meanwhile neither repeat nor push others out.
 * The cursor is opaque to clients: base64url of `<list>:<id>`, bound to the list that gave it.
 */
export interface Page {
  limit: number;
  /** The last id of the previous page; undefined for the first page. */
  after: number | undefined;
}

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 100;

export const cursorOf = (list: string, id: number) => Buffer.from(`${list}:${id}`, 'utf8').toString('base64url');

/** Reads `limit` and `cursor` of a list request; 400 (`<code>`) naming the parameter when wrong. */
export function pageOf(query: { limit?: string; cursor?: string }, list: string, code: string): Page {
  let limit = DEFAULT_LIMIT;
  if (query.limit !== undefined) {
    limit = /^[0-9]{1,3}$/.test(query.limit) ? Number(query.limit) : 0;
    if (limit < 1 || limit > MAX_LIMIT) throw new DomainError(code, `limit: must be an integer from 1 to ${MAX_LIMIT}`);
  }
  if (query.cursor === undefined || query.cursor === '') return { limit, after: undefined };
  const decoded = /^[A-Za-z0-9_-]{1,200}$/.test(query.cursor) ? Buffer.from(query.cursor, 'base64url').toString('utf8') : '';
  const m = /^([a-z-]+):([0-9]{1,15})$/.exec(decoded);
  if (!m || m[1] !== list) throw new DomainError(code, 'cursor: is not a cursor this list gave out');
  return { limit, after: Number(m[2]) };
}

/**
 * The page of `rows` (fetched with `limit + 1`, so the extra row says whether there is more)
 * and the cursor of the next one, null on the last page.
 */
export function pageResult<T>(rows: T[], page: Page, list: string, idOf: (row: T) => number): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, page.limit);
  return { items, nextCursor: rows.length > page.limit ? cursorOf(list, idOf(items[items.length - 1]!)) : null };
}
