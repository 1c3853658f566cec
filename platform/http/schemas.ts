import { STATUS_CODES } from 'node:http';
import { DomainError } from '../errors.ts';
import { Type } from '@sinclair/typebox';

export const statusText = (status: number) => STATUS_CODES[status] ?? 'Error';

export const errorBody = (status: number, hint: string) => ({ result: statusText(status), hint });

/**
 * `{result, hint}`: the error body of both contracts. Its examples are per status, in each
 * port's document (platform/http/api-document.ts).
 */
export const ErrorBody = Type.Object({ result: Type.String(), hint: Type.String() }, { description: 'Error: HTTP status text and what went wrong' });

/** The error answers of a route: `statuses`, and 503 (a dependency down), which any route may answer. */
export const errorResponses = (...statuses: number[]) => Object.fromEntries([...statuses, 503].map((s) => [s, ErrorBody]));

/** `{}`: the homeshopping contract's success and not-found body. */
export const EmptyBody = Type.Object({}, { additionalProperties: false, description: 'Empty object' });

/** `{}` once `work` is done: the answer of a route that has nothing to show. */
export const emptyAfter = async (work: Promise<unknown>): Promise<{}> => {
  await work;
  return {};
};

/** A body already rendered as JSON text. */
export const jsonResponse = (body: string | Uint8Array<ArrayBuffer>, status = 200) =>
  new Response(body, { status, headers: { 'content-type': 'application/json; charset=utf-8' } });

/**
 * A numeric id from a path segment: decimal digits within the safe integer range. Anything
 * else names no resource, so it is `<code>` (NOT_FOUND) like an id that does not exist.
 */
export function pathId(raw: string | null | undefined, code: string, what: string): number {
  const id = raw && /^[0-9]{1,15}$/.test(raw) ? Number(raw) : 0;
  if (id < 1) throw new DomainError(code, `no ${what} ${raw ?? ''}`.trim());
  return id;
}

/** `METHOD /path` as the client sent it (no query), for messages that name the request. */
export function requestLine(request: Request): string {
  const url = request.url;
  const start = url.indexOf('/', url.indexOf('//') + 2);
  const q = url.indexOf('?', start);
  return `${request.method} ${start < 0 ? '/' : q < 0 ? url.slice(start) : url.slice(start, q)}`;
}

/**
 * A text path segment. Elysia gives null for one that is not valid percent-encoding (`%ZZ`), and
 * `%00` decodes to a NUL that no text column can hold: either names nothing, so it is `<code>`
 * (INVALID where the value is checked, NOT_FOUND where it is looked up).
 */
export function pathText(raw: string | null | undefined, code: string, what: string): string {
  if (typeof raw !== 'string') throw new DomainError(code, `${what}: is not valid percent-encoding`);
  if (raw.includes('\u0000') || !raw.isWellFormed()) throw new DomainError(code, `${what}: names nothing (it holds a NUL or a lone surrogate)`);
  return raw;
}
