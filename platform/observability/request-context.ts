/**
 * What a request or a message is being handled for: its request id and its trace context, held
 * in an AsyncLocalStorage while it is handled, so that every log line written meanwhile says so
 * (log.ts), and every NATS request and event sent meanwhile carries them on (`X-Request-Id`,
 * `traceparent` headers) to the process that handles it, which logs them too.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setLogContext, type Logger } from './log.ts';
import { pathOf, type PortRoutes } from '../http/routes.ts';
import { endSpan, extractContext, injectContext, ROOT_CONTEXT, SpanKind, startSpan, traceIds, tracing, type Context } from './tracing.ts';

interface Handling {
  requestId: string | undefined;
  ctx: Context;
  /** What the answer could not vouch for (see markLocal); undefined: nothing. */
  local?: string;
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

/**
 * The header an answer carries when it reflects only this process's view: a read answered from
 * what the process holds while it cannot vouch that it is current (its lease has lapsed, NATS is
 * unreachable), or a write stored here that other processes have not been told of yet. Without
 * it, the read-your-writes promise holds (ARCHITECTURE.md, "Read-your-writes").
 */
export const CONSISTENCY_HEADER = 'X-Consistency';
let onLocal: (reason: string) => void = () => {};
/** Who counts the answers marked (the metrics). */
export const countLocalAnswers = (count: (reason: string) => void) => void (onLocal = count);

/**
 * Marks the answer to the request being handled as local (`X-Consistency: local`): `reason`
 * says why, for the metrics (`copy-not-vouched`, `write-not-shared`, `visit-not-shared`).
 * Outside a request it does nothing.
 */
export function markLocal(reason: string): void {
  const h = current.getStore();
  if (h && h.local === undefined) h.local = reason;
}

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

/**
 * The answers already sent back: an app may answer several requests with one Response object, and
 * one of those must not carry another request's id, trace or consistency mark. The first time an
 * answer goes by, its headers are set where they are (a copy costs its headers and body stream
 * again, on every request); any later time it is copied first.
 */
const stamped = new WeakSet<Response>();

/** A copy of `response` without what observe sets: a fresh object whose headers can change. */
function copyOf(response: Response): Response {
  const headers = new Headers(response.headers);
  for (const name of [REQUEST_ID_HEADER, CONSISTENCY_HEADER, 'traceparent', 'tracestate']) headers.delete(name);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

/** Sets the request id, the consistency mark and the trace on the answer. */
function stamp(answer: Response, requestId: string, handling: Handling, ctx: Context): Response {
  const sent = answer.headers;
  sent.set(REQUEST_ID_HEADER, requestId);
  if (handling.local !== undefined) {
    sent.set(CONSISTENCY_HEADER, 'local');
    onLocal(handling.local);
  }
  if (ctx !== ROOT_CONTEXT) {
    const carried = injectContext(ctx, {});
    if (carried.traceparent) sent.set('traceparent', carried.traceparent);
  }
  return answer;
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
  const line = (level: 'debug' | 'info', fields: { method: string; route: string | null; status: number; ms: number }) =>
    log.plain ? log.plain(level, 'request', fields) : log[level]('request', fields);
  return async (request) => {
    const started = performance.now();
    const headers = request.headers;
    const requestId = acceptRequestId(headers.get(REQUEST_ID_HEADER)) ?? crypto.randomUUID();
    const path = pathOf(request.url);
    const hit = routes.of(request);
    const pattern = hit?.pattern;
    const route = hit?.route;
    const quiet = QUIET.has(path);
    const traceparent = headers.get('traceparent');
    const parent = traceparent === null ? ROOT_CONTEXT : extractContext((name) => (name === 'traceparent' ? traceparent : headers.get(name)));
    // Without a provider a span would be a wrapper of the parent's context: nothing to start.
    const { span, ctx } =
      quiet || !tracing()
        ? { span: undefined, ctx: parent }
        : startSpan(pattern ?? request.method, SpanKind.SERVER, parent, { 'http.request.method': request.method, 'url.path': path, ...(route ? { 'http.route': route } : {}) });
    const handling: Handling = { requestId, ctx };
    return current.run(handling, async () => {
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
        line(quiet ? 'debug' : 'info', { method: request.method, route: route ?? null, status, ms: Math.round((performance.now() - started) * 10) / 10 });
      }
      const fresh = stamped.has(response) ? copyOf(response) : response;
      let answer: Response;
      try {
        answer = stamp(fresh, requestId, handling, ctx);
      } catch {
        // Headers that cannot change (a Response from fetch): the answer is a copy after all.
        answer = stamp(copyOf(fresh), requestId, handling, ctx);
      }
      stamped.add(answer);
      return answer;
    });
  };
}
