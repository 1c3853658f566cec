import { toOpenAPISchema } from '@elysiajs/openapi';
import type { AnyElysia } from 'elysia';
import { CONSISTENCY_HEADER } from '../observability/request-context.ts';
import { CORS_ALLOWED_HEADERS } from './edge.ts';
import { statusText } from './schemas.ts';
import { problemHint } from '../text.ts';

/**
 * A port's OpenAPI document: what Elysia generates from the routes' schemas, completed with what
 * it cannot know — which product and modules the port serves, how a caller authenticates, the
 * error envelope with a real example per status, the answers the platform gives on every route
 * (400 for bad text, 413 for a body too large) — and cleaned of what is not OpenAPI (TypeBox's
 * `error` messages, form content types the API does not read). Held to Redocly's recommended
 * rules by test/api-documents.test.ts.
 */
export type Product = 'homeshopping' | 'minifb';

export interface ApiDocumentOptions {
  product: Product;
  /** The modules this port serves, in order. */
  modules: string[];
  maxBodyBytes: number;
  /**
   * Operations the port answers beside its app's routes, documented as they are (`/healthz`,
   * `/readyz`, `/metrics`: platform/http/operations.ts); an error example they give is kept. A route of the app is
   * documented from its schemas; one that needs no credentials says `detail: { security: [] }`.
   */
  extraPaths?: Record<string, Record<string, Operation>>;
}

type Json = Record<string, any>;
export type Operation = Json;

const PRODUCT_NAMES: Record<Product, string> = { homeshopping: 'Homeshopping Moa', minifb: 'minifb' };

/** The document's title: product and modules, e.g. `minifb — account, feed API`. */
export const documentTitle = (product: Product, modules: readonly string[]) => `${PRODUCT_NAMES[product]} — ${modules.join(', ')} API`;

const SECURITY_SCHEMES: Record<Product, Json> = {
  homeshopping: {
    userToken: { type: 'apiKey', in: 'header', name: 'USER-TOKEN', description: "The caller's access token (the user directory's `access_token`)" },
  },
  minifb: {
    bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The `accessToken` of `POST /auth` (15 minutes)' },
    refreshToken: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The `refreshToken` of `POST /auth` (14 days), only for `POST /refresh`' },
  },
};

function description(options: ApiDocumentOptions): string {
  const auth =
    options.product === 'homeshopping'
      ? 'Every operation needs the caller\'s token in the `USER-TOKEN` header. A domain\'s "not found" is a bare `{}` (404), as the contract says;'
      : 'Operations that need a signed-in caller take `Authorization: Bearer <accessToken>` (`POST /auth` gives one);';
  return [
    `${PRODUCT_NAMES[options.product]}: the ${options.modules.join(', ')} module${options.modules.length > 1 ? 's' : ''} of this process.`,
    '',
    `${auth} every other error is \`{"result": <status text>, "hint": <what went wrong>}\`.`,
    'Bodies are JSON (sent without `Content-Type: application/json` they are read as JSON all the same), ' +
      `at most ${options.maxBodyBytes} bytes (413). A text value holding a NUL character or a lone surrogate is refused (400, naming the field).`,
    `Browsers may call from the origins in \`CORS_ORIGINS\` (request headers ${CORS_ALLOWED_HEADERS}).`,
  ].join('\n');
}

/** Calls every schema object (and sub-schema) of `node`, depth first. */
function walkSchemas(node: unknown, visit: (schema: Json) => void) {
  if (Array.isArray(node)) {
    for (const n of node) walkSchemas(n, visit);
    return;
  }
  if (!node || typeof node !== 'object') return;
  visit(node as Json);
  for (const value of Object.values(node)) walkSchemas(value, visit);
}

/** OpenAPI is JSON Schema: TypeBox's `error` messages go; a numeric enum is typed as numbers. */
function cleanSchema(schema: Json) {
  if (typeof schema.error === 'string') delete schema.error;
  if (Array.isArray(schema.enum) && schema.type === 'string' && schema.enum.every((v: unknown) => typeof v === 'number')) {
    schema.type = schema.enum.every(Number.isInteger) ? 'integer' : 'number';
  }
}

const isErrorBody = (schema: Json | undefined) => schema?.type === 'object' && schema.properties?.result && schema.properties?.hint;

/** The error envelope answered with `status`, as a document shows it: its schema and an example with `hint`. */
export const errorResponse = (status: number, hint: string): Json => ({
  description: statusText(status),
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['result', 'hint'],
        properties: { result: { type: 'string', description: 'The HTTP status text' }, hint: { type: 'string', description: 'What went wrong' } },
      },
      example: { result: statusText(status), hint },
    },
  },
});

/** A hint the operation really gives for `status`, or a plain one of the platform's. */
function exampleHint(product: Product, status: number, op: Json, method: string, path: string): string {
  const params: Json[] = op.parameters ?? [];
  const pathParam = params.find((p) => p.in === 'path')?.name;
  const query = params.filter((p) => p.in === 'query').map((p) => p.name);
  const body = op.requestBody?.content?.['application/json']?.schema;
  const owner = pathParam && /\/([a-z]+)\/\{[^}]+\}[^{]*$/.exec(path.slice(0, path.indexOf(`{${pathParam}}`) + pathParam.length + 2))?.[1];
  switch (status) {
    case 400:
      if (body?.required?.[0]) return `${body.required[0]}: is required`;
      if (query.includes('limit')) return 'limit: must be an integer from 1 to 100';
      if (pathParam) return `${pathParam}: ${problemHint('\u0000')!}`;
      return 'the request body is not valid JSON';
    case 401:
      if (product === 'homeshopping') return 'USER-TOKEN header is missing';
      if (op.security?.length === 0) return 'id or password is wrong';
      return "Authorization header is missing: send 'Authorization: Bearer <accessToken>'";
    case 403:
      if (body?.properties?.currentPw) return 'currentPw: is not your current password';
      if (path.startsWith('/admin') || path.includes('temporary-password')) return 'only an administrator may do this';
      return `You have not permission for '${method.toUpperCase()} ${path.replace(/\{[^}]+\}/g, '14')}'`;
    case 404:
      return owner ? `no ${owner === 'timeline' ? 'user' : owner} 14` : `no route for GET ${path}`;
    case 409:
      return body?.properties?.newPw ? 'newPw: must differ from the current password' : "id: 'alice' is taken";
    case 503:
      return 'the database of this service is not reachable';
    default:
      return statusText(status);
  }
}

/** The header of an answer that reflects only the answering process's view (markLocal). */
const CONSISTENCY: Json = {
  description:
    "`local`: this answer reflects only the view of the process that gave it. A read was answered from what it holds while it cannot vouch that it is current (NATS unreachable, its lease lapsed): another port may show a later write. A write (or a visit) was stored here, but other processes could not be told yet: other ports show it once NATS is back. Without the header, a write answered 2xx shows in every read that starts after it, on any port.",
  schema: { type: 'string', enum: ['local'] },
};

/** Completes one generated operation in place. */
function completeOperation(product: Product, op: Json, method: string, path: string, maxBodyBytes: number) {
  // Only JSON is read (any content type is parsed as JSON), so only JSON is documented.
  const content = op.requestBody?.content;
  if (content?.['application/json']) op.requestBody.content = { 'application/json': content['application/json'] };

  // Authorization is a security scheme, not a parameter (OpenAPI ignores such a header parameter).
  const params: Json[] = op.parameters ?? [];
  const bearer = params.some((p) => p.in === 'header' && p.name.toLowerCase() === 'authorization');
  if (bearer) op.parameters = params.filter((p) => !(p.in === 'header' && p.name.toLowerCase() === 'authorization'));
  if (op.parameters?.length === 0) delete op.parameters;
  if (product === 'minifb') op.security ??= bearer ? [{ bearerAuth: [] }] : [];

  op.responses ??= {};
  // The platform refuses bad text in any path parameter, documented query or body (400), and a
  // body over the limit (413), whatever the route declares.
  const takesText = params.some((p) => p.in === 'path' || p.in === 'query') || op.requestBody;
  const statuses = Object.keys(op.responses).map(Number);
  if (takesText && !statuses.includes(400)) statuses.push(400);
  if (op.requestBody && !statuses.includes(413)) statuses.push(413);
  for (const status of statuses.sort()) {
    const declared = op.responses[status]?.content?.['application/json']?.schema;
    if (status < 400 || (declared && !isErrorBody(declared))) continue;
    if (!declared && op.responses[status]) continue; // described without a body (the dashboard's HTML)
    const given = op.responses[status]?.content?.['application/json']?.example?.hint;
    const hint = status === 413 ? `the request body must be at most ${maxBodyBytes} bytes` : (given ?? exampleHint(product, status, op, method, path));
    op.responses[status] = errorResponse(status, hint);
  }
  op.responses = Object.fromEntries(Object.entries(op.responses).sort(([a], [b]) => Number(a) - Number(b)));
}

/** The product's security schemes that the document's operations use (all of homeshopping's). */
function usedSchemes(product: Product, paths: Json): Json {
  const used = new Set(Object.values<Json>(paths).flatMap((ops) => Object.values<Json>(ops).flatMap((op) => (op.security ?? []).flatMap(Object.keys))));
  const schemes = SECURITY_SCHEMES[product];
  return product === 'homeshopping' ? schemes : Object.fromEntries(Object.entries(schemes).filter(([name]) => used.has(name)));
}

/** The OpenAPI document of `app`, the port's Elysia app with every module's routes. */
export function apiDocument(app: AnyElysia, options: ApiDocumentOptions): Json {
  // The port's own parser (every body read as JSON) would hide the body schemas from the
  // generator, which documents only parsers it knows by name: it sees the routes without it.
  const source = app as unknown as { getGlobalRoutes(): { hooks: object }[]; getGlobalDefinitions(): unknown };
  const routes = { getGlobalRoutes: () => source.getGlobalRoutes().map((r) => ({ ...r, hooks: { ...r.hooks, parse: undefined } })), getGlobalDefinitions: () => source.getGlobalDefinitions() };
  const generated = structuredClone(toOpenAPISchema(routes as unknown as AnyElysia)) as { paths: Json; components: Json };
  walkSchemas(generated, cleanSchema);
  const paths: Json = { ...generated.paths, ...structuredClone(options.extraPaths ?? {}) };
  for (const [path, operations] of Object.entries<Json>(paths)) {
    for (const [method, op] of Object.entries<Json>(operations)) {
      completeOperation(options.product, op, method, path, options.maxBodyBytes);
      // The app's answers may be local (request-context.ts, markLocal); the operators' never are.
      if (!options.extraPaths?.[path]) for (const [status, response] of Object.entries<Json>(op.responses)) if (status.startsWith('2')) response.headers = { [CONSISTENCY_HEADER]: { $ref: '#/components/headers/Consistency' } };
    }
  }
  return {
    openapi: '3.1.1',
    info: { title: documentTitle(options.product, options.modules), description: description(options), version: '1.0.0' },
    // Relative: the document is right wherever the port is reached (directly, or through a proxy).
    servers: [{ url: '/', description: `this ${PRODUCT_NAMES[options.product]} process` }],
    ...(options.product === 'homeshopping' ? { security: [{ userToken: [] }] } : {}),
    paths,
    components: { ...generated.components, headers: { Consistency: CONSISTENCY }, securitySchemes: usedSchemes(options.product, paths) },
  };
}
