/**
 * What a request or a message is being handled for: its request id and its trace context, held
 * in an AsyncLocalStorage while it is handled, so that every log line written meanwhile says so
 * (log.ts), and every NATS request and event sent meanwhile carries them on (`X-Request-Id`,
 * `traceparent` headers) to the process that handles it, which logs them too.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setLogContext, type Logger } from './log.ts';
import { pathOf, type PortRoutes } from '../http/routes.ts';
import { endSpan, extractContext, injectContext, SpanKind, startSpan, traceIds, type Context } from './tracing.ts';

interface Handling {
  requestId: string | undefined;
  ctx: Context;
}

const current = new AsyncLocalStorage<Handling>();

setLogContext(() => {
  const h = current.getStore();
  if (!h) return undefined;
  const ids = traceIds(h.ctx);
  return ids ? { reqId: h.requestId, traceId: ids.traceId, spanId: ids.spanId } : { reqId: h.requestId };
});

export const REQUEST_ID_HEADER = 'X-Request-Id';

/** A request id a client sent is kept when it is short and plain; otherwise one is made. */
const SAFE_ID = /^[A-Za-z0-9._:@+=-]{1,128}$/;
export const acceptRequestId = (value: string | null | undefined): string | undefined => (value && SAFE_ID.test(value) ? value : undefined);

/**
 * Starts a loop that outlives what it was started for (a consumer, a follower): outside the
 * request being handled, so that its lines do not carry that request's id for ever.
 */
export const detached = (run: () => Promise<unknown>): void => current.exit(() => void run());

/** The request id being handled now, if any. */
export const currentRequestId = (): string | undefined => current.getStore()?.requestId;

/**
 * The headers that carry the current request id and trace on (empty outside a request or a
 * message): what a NATS request or event sent now takes along, and what the outbox stores with
 * an event so that its relay, later, sends them.
 */
export function outgoingHeaders(): Record<string, string> {
  const h = current.getStore();
  if (!h) return {};
  const headers = injectContext(h.ctx, {});
  if (h.requestId) headers[REQUEST_ID_HEADER] = h.requestId;
  return headers;
}

/**
 * Handles a NATS request or event under the request id and trace its headers carry: a span
 * (`serve <subject>` or `process <subject>`, child of the sender's) and a log line once done —
 * at info when the message came from a request, at debug otherwise (background traffic).
 */
export async function inbound<T>(
  kind: 'request' | 'event',
  subject: string,
  header: (name: string) => string | null | undefined,
  log: Logger,
  handle: () => Promise<T>,
): Promise<T> {
  const started = performance.now();
  const requestId = acceptRequestId(header(REQUEST_ID_HEADER));
  const parent = extractContext(header);
  const { span, ctx } = startSpan(`${kind === 'request' ? 'serve' : 'process'} ${subject}`, kind === 'request' ? SpanKind.SERVER : SpanKind.CONSUMER, parent, {
    'messaging.system': 'nats',
    'messaging.destination.name': subject,
  });
  return current.run({ requestId, ctx }, async () => {
    let failure: unknown;
    try {
      return await handle();
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      endSpan(span, failure);
      const fields = { kind, subject, ms: Math.round((performance.now() - started) * 10) / 10, ok: failure === undefined };
      if (requestId) log.info('message handled', fields);
      else log.debug('message handled', fields);
    }
  });
}

/** Scrapes and health checks: logged at debug, not traced. */
const QUIET = new Set(['/metrics', '/healthz', '/readyz']);

type Handler = (request: Request) => Promise<Response>;

/**
 * A port's handler with a request id, a span and a log line per request: `X-Request-Id` is
 * taken from the request (when safe) or made, `traceparent` continued or started; both are sent
 * back with the answer. The line says method, route pattern, status, ms and the request id.
 */
export function observe(handler: Handler, options: { routes: PortRoutes; log: Logger }): Handler {
  const { log, routes } = options;
  return async (request) => {
    const started = performance.now();
    const requestId = acceptRequestId(request.headers.get(REQUEST_ID_HEADER)) ?? crypto.randomUUID();
    const path = pathOf(request.url);
    const hit = routes.of(request);
    const pattern = hit?.pattern;
    const route = hit?.route;
    const quiet = QUIET.has(path);
    const parent = extractContext((name) => request.headers.get(name));
    const { span, ctx } = quiet
      ? { span: undefined, ctx: parent }
      : startSpan(pattern ?? request.method, SpanKind.SERVER, parent, { 'http.request.method': request.method, 'url.path': path, ...(route ? { 'http.route': route } : {}) });
    return current.run({ requestId, ctx }, async () => {
      let response: Response | undefined;
      let failure: unknown;
      try {
        response = await handler(request);
      } catch (error) {
        failure = error;
        throw error;
      } finally {
        const status = response?.status ?? 500;
        if (span) {
          span.setAttribute('http.response.status_code', status);
          endSpan(span, failure ?? (status >= 500 ? `HTTP ${status}` : undefined));
        }
        const fields = { method: request.method, route: route ?? null, status, ms: Math.round((performance.now() - started) * 10) / 10 };
        if (quiet) log.debug('request', fields);
        else log.info('request', fields);
      }
      // A copy: an app may answer several requests with one Response object.
      const headers = new Headers(response.headers);
      headers.set(REQUEST_ID_HEADER, requestId);
      const sent = injectContext(ctx, {});
      if (sent.traceparent) headers.set('traceparent', sent.traceparent);
      return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
    });
  };
}
