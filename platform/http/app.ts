import { Elysia, ValidationError, type AnyElysia } from 'elysia';
import { apiDocument, documentTitle, type ApiDocumentOptions, type Product } from './api-document.ts';
import { databaseError, DomainError, httpStatusOf } from '../errors.ts';
import { errorBody } from './schemas.ts';
import type { Logger } from '../observability/log.ts';
import { RouteTable } from './routes.ts';
import { problemHint, textProblemIn } from '../text.ts';

export { errorBody, statusText } from './schemas.ts';

export interface HttpAppOptions {
  /** Name of the port's app, e.g. `http:5001`. */
  name: string;
  product: Product;
  /** The modules served on the port (they name its document). */
  modules: string[];
  log: Logger;
  /** For the document: the largest body the port accepts. */
  maxBodyBytes: number;
  /** Operations answered beside the app (`/metrics`), for the document. */
  extraPaths?: ApiDocumentOptions['extraPaths'];
  /**
   * The homeshopping contract answers its domain 404s with a bare `{}`; every other error, there
   * and in minifb, is `{result, hint}`.
   */
  bareNotFound?: boolean;
}

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
  // Text no column can hold says so, whatever else its schema wanted.
  const badText = typeof first.value === 'string' ? problemHint(first.value) : undefined;
  if (badText) return `${field}: ${badText}`;
  const types = typesOf(schema);
  if (types.length > 0 && !types.some((t) => hasType(t, first.value))) {
    return `${field}: must be ${types.map((t) => typeNames[t] ?? t).join(' or ')}`;
  }
  if (typeof schema.error === 'string') return `${field}: ${schema.error}`;
  return `${field}: ${first.summary ?? first.message ?? 'invalid'}`;
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The reference page: Swagger UI from the pinned `swagger-ui-dist` package, served here (no CDN). */
const docsPage = (title: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${escapeHtml(title)}</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script>SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, validatorUrl: null });</script>
</body>
</html>
`;

const docsAsset = (file: string, type: string) => {
  const path = Bun.resolveSync(`swagger-ui-dist/${file}`, import.meta.dir);
  return () => new Response(Bun.file(path), { headers: { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'public, max-age=86400' } });
};

/** JSON bodies, as `application/json` or `…+json`: Elysia's own parser reads them. */
const isJson = (contentType: string) => contentType === 'application/json' || contentType.endsWith('+json');

/**
 * One Elysia app per served port. It owns the one error mapping of the system: domain error
 * codes → HTTP statuses, Elysia's own errors → the contract's error bodies, never a stack trace.
 * Each module adds its routes as a named plugin. It serves the port's OpenAPI document and its
 * reference page, reads every body as JSON, and refuses text no database can store wherever a
 * route takes text.
 */
export function createHttpApp(options: HttpAppOptions) {
  const { log } = options;
  // Built on the first request that needs them, when every module has added its routes.
  let routes: RouteTable | undefined;
  let document: object | undefined;
  const inputs = new Map<string, { query: boolean; body: boolean }>();
  // The app itself, for the hooks that read its routes (they run once it is built).
  let self: AnyElysia | undefined;
  /** Whether the route declares a query and a body schema (then Elysia keeps only their keys). */
  const declared = (method: string, route: string) => {
    const key = `${method} ${route}`;
    let found = inputs.get(key);
    if (!found) {
      const all = self!.routes;
      const hooks = (all.find((r) => r.method === method && r.path === route) ?? all.find((r) => r.method === 'GET' && r.path === route))?.hooks as { query?: unknown; body?: unknown } | undefined;
      found = { query: hooks?.query !== undefined, body: hooks?.body !== undefined };
      inputs.set(key, found);
    }
    return found;
  };
  const title = documentTitle(options.product, options.modules);

  // Validators are built when a route is added, not on its first request: Elysia completes each
  // route's schemas as it builds them (`additionalProperties`), and the document reads those
  // very objects — built lazily, the document changed with the traffic (the conformance kit's
  // published document caught it).
  const app = new Elysia({ name: options.name, precompile: true })
    .get('/openapi.json', () => (document ??= apiDocument(self!, options)), { detail: { hide: true } })
    .get('/docs', () => new Response(docsPage(title), { headers: { 'content-type': 'text/html; charset=utf-8' } }), { detail: { hide: true } })
    .get('/docs/swagger-ui.css', docsAsset('swagger-ui.css', 'text/css'), { detail: { hide: true } })
    .get('/docs/swagger-ui-bundle.js', docsAsset('swagger-ui-bundle.js', 'text/javascript'), { detail: { hide: true } })
    .error({ DomainError })
    // Every body is JSON, whatever its Content-Type says (`curl -d` says form-urlencoded). A route
    // that declares no body does not read one (as without this hook).
    .onParse(async ({ request, route, contentType }) => {
      if (!declared(request.method, route).body) return null;
      if (isJson(contentType)) return;
      const text = await request.text();
      return text.trim() === '' ? null : JSON.parse(text);
    })
    // After authentication (a transform) and validation: a NUL or a lone surrogate in a path
    // parameter, a documented query parameter or the body is refused, naming the field.
    .onBeforeHandle(({ request, route, params, query, body }) => {
      const takes = declared(request.method, route);
      const problem = textProblemIn(params) ?? (takes.query ? textProblemIn(query) : undefined) ?? (takes.body ? textProblemIn(body) : undefined);
      if (problem) throw new DomainError('HTTP.INVALID', problem);
    })
    .onError(({ code, error, request, path }) => {
      if (error instanceof DomainError) {
        const status = httpStatusOf[error.kind];
        if (status === 404 && options.bareNotFound) return json(404, {});
        if (status >= 500) log.warn('request failed', { path, code: error.code, error });
        return json(status, errorBody(status, error.message));
      }
      switch (code) {
        case 'VALIDATION':
          return json(400, errorBody(400, validationHint(error as ValidationError)));
        case 'PARSE': {
          const sent = request.headers.get('content-type');
          const advice = sent && isJson(sent.split(';')[0]!.trim()) ? '' : ' (bodies are JSON: send it with Content-Type: application/json)';
          return json(400, errorBody(400, `the request body is not valid JSON${advice}`));
        }
        case 'NOT_FOUND': {
          routes ??= new RouteTable(self!.routes);
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
        log.warn('database unavailable', { path, error });
        return json(503, errorBody(503, mapped.message));
      }
      const status = typeof (error as { status?: unknown }).status === 'number' ? (error as { status: number }).status : 500;
      if (status < 500 && status >= 400) return json(status, errorBody(status, (error as Error).message));
      log.error('unhandled error', { path, error });
      return json(500, errorBody(500, (error as Error)?.message ?? 'internal error'));
    });
  self = app;
  return app;
}

export type HttpApp = ReturnType<typeof createHttpApp>;
