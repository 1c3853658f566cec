import { errorBody } from './schemas.ts';

/**
 * What a port does to a request before its app sees it, and to the answer after: the body limit
 * and CORS. Both must happen before anything else — a body too large is refused before it is
 * read (Bun streams request bodies, so an unread one costs nothing), and a browser's preflight
 * carries no credentials, so it is answered before authentication could refuse it.
 */
export interface EdgeOptions {
  /** Largest body accepted, in bytes (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Origins allowed to call from a browser (CORS_ORIGINS); `*` allows any. */
  corsOrigins: readonly string[];
}

type Handler = (request: Request) => Promise<Response>;

/** The request headers a browser may send across origins: both products' credentials and JSON. */
export const CORS_ALLOWED_HEADERS = 'USER-TOKEN, Authorization, Content-Type';
const CORS_ALLOWED_METHODS = 'GET, POST, PUT, PATCH, DELETE';

const tooLarge = (max: number) =>
  new Response(JSON.stringify(errorBody(413, `the request body must be at most ${max} bytes`)), {
    status: 413,
    // The rest of the body is never read: the connection cannot carry another request.
    headers: { 'content-type': 'application/json; charset=utf-8', connection: 'close' },
  });

/** The body, read up to `max` bytes; undefined as soon as it is longer (the rest is not read). */
async function readAtMost(body: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => {});
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks) as Uint8Array<ArrayBuffer>;
}

/**
 * The port's handler behind the edge. A body with a Content-Length over the limit is refused
 * from its headers; one without (chunked) is read up to the limit and refused at the first byte
 * past it. An allowed origin's preflight is answered here; its other requests get
 * `Access-Control-Allow-Origin`. A disallowed origin's preflight gets no allow header, which is
 * how a browser learns it may not call.
 */
export function edge(handler: Handler, { maxBodyBytes, corsOrigins }: EdgeOptions): Handler {
  const anyOrigin = corsOrigins.includes('*');
  const allowed = new Set(corsOrigins);
  const allows = (origin: string | null): origin is string => origin !== null && (anyOrigin || allowed.has(origin));

  const guarded = async (request: Request, origin: string | null): Promise<Response> => {
    if (request.method === 'OPTIONS' && origin !== null && request.headers.has('access-control-request-method')) {
      const headers: Record<string, string> = { vary: 'Origin' };
      if (allows(origin)) {
        headers['access-control-allow-origin'] = origin;
        headers['access-control-allow-methods'] = CORS_ALLOWED_METHODS;
        headers['access-control-allow-headers'] = CORS_ALLOWED_HEADERS;
        headers['access-control-max-age'] = '600';
      }
      return new Response(null, { status: 204, headers });
    }

    if (request.body !== null) {
      const length = request.headers.get('content-length');
      if (length !== null) {
        if (Number(length) > maxBodyBytes) return tooLarge(maxBodyBytes);
      } else {
        const body = await readAtMost(request.body, maxBodyBytes);
        if (body === undefined) return tooLarge(maxBodyBytes);
        request = new Request(request.url, { method: request.method, headers: request.headers, body });
      }
    }

    const response = await handler(request);
    if (!allows(origin)) return response;
    // A copy: an app may answer several requests with one Response object.
    const headers = new Headers(response.headers);
    headers.set('access-control-allow-origin', origin);
    headers.append('vary', 'Origin');
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
  };
  // Most requests carry no body and come from no browser: nothing to check, nothing to add.
  return (request) => {
    const origin = request.headers.get('origin');
    return origin === null && request.body === null ? handler(request) : guarded(request, origin);
  };
}
