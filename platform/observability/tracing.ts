/**
 * Traces with OpenTelemetry. Spans are made through `@opentelemetry/api`'s global tracer: until
 * `startTracing` registers a provider (only when OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set) that tracer is the API's no-op one, which allocates
 * nothing but a wrapper of the parent's span context — so a `traceparent` received is still
 * passed on, and nothing is recorded or sent.
 *
 * No global context manager: the context of the request or message being handled lives in
 * request-context.ts's AsyncLocalStorage, and spans are started with their parent explicitly.
 * Propagation is W3C Trace Context (`traceparent`, `tracestate`) over HTTP and NATS headers.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';

export type { Context, Span } from '@opentelemetry/api';
export { ROOT_CONTEXT, SpanKind, SpanStatusCode };

const propagator = new W3CTraceContextPropagator();
const tracer = () => trace.getTracer('moa');

/** The trace context carried by `get` (HTTP or NATS headers); the root context when none is. */
export function extractContext(get: (name: string) => string | null | undefined): Context {
  const traceparent = get('traceparent');
  if (!traceparent) return ROOT_CONTEXT;
  const carrier: Record<string, string> = { traceparent };
  const tracestate = get('tracestate');
  if (tracestate) carrier.tracestate = tracestate;
  return propagator.extract(ROOT_CONTEXT, carrier, { get: (c, k) => c[k], keys: (c) => Object.keys(c) });
}

/** `traceparent` (and `tracestate`) of `ctx` into `carrier`; nothing when it holds no valid span. */
export function injectContext(ctx: Context, carrier: Record<string, string>): Record<string, string> {
  propagator.inject(ctx, carrier, { set: (c, k, v) => (c[k] = v) });
  return carrier;
}

/** Starts a span under `parent`; returns it and the context it is the current span of. */
export function startSpan(name: string, kind: SpanKind, parent: Context, attributes?: Record<string, string | number>): { span: Span; ctx: Context } {
  const span = tracer().startSpan(name, { kind, attributes }, parent);
  return { span, ctx: trace.setSpan(parent, span) };
}

/** Ends a span, marking it failed when `error` is given. */
export function endSpan(span: Span, error?: unknown): void {
  if (error !== undefined) {
    if (error instanceof Error) span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }
  span.end();
}

/** The ids of the current span of `ctx`, for log lines (undefined when there is none). */
export function traceIds(ctx: Context): { traceId: string; spanId: string } | undefined {
  const sc = trace.getSpanContext(ctx);
  return sc && trace.isSpanContextValid(sc) ? { traceId: sc.traceId, spanId: sc.spanId } : undefined;
}

interface Provider {
  shutdown(): Promise<void>;
}
let provider: Provider | undefined;

/**
 * Whether spans are recorded (a provider is registered). When not, a span started under a parent
 * is the no-op tracer's wrapper of the parent's span context: the same ids, the same
 * `traceparent` on — so a caller may use the parent context itself and start nothing.
 */
export const tracing = (): boolean => provider !== undefined;

/**
 * Where spans go: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, or OTEL_EXPORTER_OTLP_ENDPOINT
 * with `/v1/traces` (as the specification says); undefined when neither is set.
 */
export function tracesUrl(env: Record<string, string | undefined> = process.env): string | undefined {
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
}

/**
 * Registers a tracer provider exporting over OTLP/HTTP (JSON) in batches, when an endpoint is
 * configured (`tracesUrl`; the exporter reads OTEL_EXPORTER_OTLP_HEADERS and the like itself).
 * The SDK is loaded only then: without an endpoint nothing of it is even imported.
 */
export async function startTracing(serviceName: string, env: Record<string, string | undefined> = process.env): Promise<boolean> {
  const url = tracesUrl(env);
  if (provider || !url) return false;
  const [{ TracerProvider, BatchSpanProcessor }, { OTLPTraceExporter }, { resourceFromAttributes }] = await Promise.all([
    import('@opentelemetry/sdk-trace'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
  ]);
  const sdk = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || serviceName, 'process.pid': process.pid }),
    spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }), scheduledDelayMillis: 1000 })],
  });
  trace.setGlobalTracerProvider(sdk);
  provider = sdk;
  return true;
}

/**
 * Exports what is still buffered and stops (graceful shutdown); a no-op when not tracing. A
 * collector that does not answer holds the stop up `timeoutMs` at most (the exporter's own
 * timeout is 10 s, more than the whole grace period).
 */
export async function stopTracing(timeoutMs = 2000): Promise<void> {
  const p = provider;
  provider = undefined;
  if (!p) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([p.shutdown(), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
  } finally {
    clearTimeout(timer);
    trace.disable();
  }
}
