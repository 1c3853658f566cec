import { STATUS_CODES } from 'node:http';
import { openapi } from '@elysiajs/openapi';
import { Elysia, ValidationError } from 'elysia';
import { databaseError } from './db.ts';
import { DomainError, httpStatusOf } from './errors.ts';
import type { Logger } from './log.ts';

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

/** Says what is wrong with a request that failed schema validation, naming the field. */
export function validationHint(error: ValidationError): string {
  const first = error.all[0] as { path?: string; summary?: string; message?: string; schema?: { error?: unknown } } | undefined;
  const where = error.type === 'body' ? 'body' : error.type;
  if (!first) return `${where}: invalid`;
  const custom = first.schema?.error;
  const field = first.path ? first.path.replace(/^\//, '').replaceAll('/', '.') : where;
  if (typeof custom === 'string') return `${field}: ${custom}`;
  return `${field}: ${first.summary ?? first.message ?? 'invalid'}`;
}

/**
 * One Elysia app per served port. It owns the one error mapping of the system: domain error
 * codes → HTTP statuses, Elysia's own errors → the contract's error bodies, never a stack trace.
 * Each module adds its routes as a named plugin.
 */
export function createHttpApp(options: HttpAppOptions) {
  const { log } = options;
  return new Elysia({ name: options.name })
    .use(
      openapi({
        path: '/docs',
        specPath: '/openapi.json',
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
        case 'NOT_FOUND':
          return json(404, errorBody(404, `no route for ${request.method} ${path}`));
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
}

export type HttpApp = ReturnType<typeof createHttpApp>;
