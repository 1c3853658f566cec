import { STATUS_CODES } from 'node:http';
import { openapi } from '@elysiajs/openapi';
import { Elysia, ValidationError } from 'elysia';
import { databaseError } from './db.ts';
import { DomainError, httpStatusOf } from './errors.ts';
import type { Logger } from './log.ts';
import { RouteTable } from './routes.ts';

export interface HttpAppOptions {
  /** Name of the port's app, e.g. `homeshopping:5001`. */
  name: string;
  title: string;
  log: Logger;
  /**
   * The homeshopping contract answers its domain 404s with a bare `{}`; every other error, there
   * and in minifb, is `{result, hint}`.
   */
  bareNotFound?: boolean;
}

export const statusText = (status: number) => STATUS_CODES[status] ?? 'Error';

export const errorBody = (status: number, hint: string) => ({ result: statusText(status), hint });

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });

interface FailedSchema {
  type?: string;
  anyOf?: FailedSchema[];
  error?: unknown;
}

const typeNames: Record<string, string> = { string: 'a string', integer: 'an integer', number: 'a number', boolean: 'a boolean', object: 'an object', array: 'an array', null: 'null' };

function typesOf(schema: FailedSchema): string[] {
  if (schema.anyOf) return schema.anyOf.flatMap(typesOf);
  return schema.type ? [schema.type] : [];
}

function hasType(type: string, value: unknown): boolean {
  switch (type) {
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    case 'null':
      return value === null;
    case 'array':
      return Array.isArray(value);
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    default:
      return typeof value === type;
  }
}

/**
 * Says what is wrong with a request that failed schema validation, naming the field: a missing
 * field is required; a value of the wrong JSON type names the type wanted; otherwise the
 * schema's own `error` text (e.g. `must be 2 to 16 characters`), or TypeBox's message.
 */
export function validationHint(error: ValidationError): string {
  const first = error.all[0] as { path?: string; summary?: string; message?: string; schema?: FailedSchema; value?: unknown } | undefined;
  const where = error.type === 'body' ? 'body' : error.type;
  if (!first) return `${where}: invalid`;
  const field = first.path ? first.path.replace(/^\//, '').replaceAll('/', '.') : where;
  const schema = first.schema ?? {};
  if (first.path && first.value === undefined) return `${field}: is required`;
  const types = typesOf(schema);
  if (types.length > 0 && !types.some((t) => hasType(t, first.value))) {
    return `${field}: must be ${types.map((t) => typeNames[t] ?? t).join(' or ')}`;
  }
  if (typeof schema.error === 'string') return `${field}: ${schema.error}`;
  return `${field}: ${first.summary ?? first.message ?? 'invalid'}`;
}

/**
 * One Elysia app per served port. It owns the one error mapping of the system: domain error
 * codes → HTTP statuses, Elysia's own errors → the contract's error bodies, never a stack trace.
 * Each module adds its routes as a named plugin.
 */
export function createHttpApp(options: HttpAppOptions) {
  const { log } = options;
  // Built on the first unmatched request, when every module has added its routes.
  let routes: RouteTable | undefined;
  // Validators are built when a route is added, not on its first request: Elysia completes each
  // route's schemas as it builds them (`additionalProperties`), and /openapi.json shows those
  // very objects — built lazily, the document changed with the traffic (the conformance kit's
  // published document caught it). `embedSpec` makes /docs a handler: a page built once is a
  // body that precompiled routes cannot serve twice.
  const app = new Elysia({ name: options.name, precompile: true })
    .use(
      openapi({
        path: '/docs',
        specPath: '/openapi.json',
        embedSpec: true,
        documentation: { info: { title: options.title, version: '1.0.0' } },
      }),
    )
    .error({ DomainError })
    .onError(({ code, error, request, path }) => {
      if (error instanceof DomainError) {
        const status = httpStatusOf[error.kind];
        if (status === 404 && options.bareNotFound && !error.code.startsWith('HTTP.')) return json(404, {});
        if (status >= 500) log.warn('request failed', { path, code: error.code, error: error.message });
        return json(status, errorBody(status, error.message));
      }
      switch (code) {
        case 'VALIDATION':
          return json(400, errorBody(400, validationHint(error as ValidationError)));
        case 'PARSE':
          return json(400, errorBody(400, 'the request body is not valid JSON'));
        case 'NOT_FOUND': {
          routes ??= new RouteTable(app.routes);
          const allowed = routes.allowed(path);
          if (allowed.length > 0) {
            const response = json(405, errorBody(405, `${request.method} is not allowed on ${path} (allowed: ${allowed.join(', ')})`));
            response.headers.set('allow', allowed.join(', '));
            return response;
          }
          return json(404, errorBody(404, `no route for ${request.method} ${path}`));
        }
        case 'INVALID_COOKIE_SIGNATURE':
        case 'INVALID_FILE_TYPE':
          return json(400, errorBody(400, (error as Error).message));
      }
      const mapped = databaseError(error);
      if (mapped instanceof DomainError) {
        log.warn('database unavailable', { path, error: (error as Error).message });
        return json(503, errorBody(503, mapped.message));
      }
      const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
      if (status < 500 && status >= 400) return json(status, errorBody(status, (error as Error).message));
      log.error('unhandled error', { path, error: error as Error, stack: (error as Error).stack });
      return json(500, errorBody(500, (error as Error)?.message ?? 'internal error'));
    });
  return app;
}

export type HttpApp = ReturnType<typeof createHttpApp>;
