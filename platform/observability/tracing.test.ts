import { describe, expect, test } from 'bun:test';
import { endSpan, extractContext, injectContext, ROOT_CONTEXT, SpanKind, startSpan, startTracing, stopTracing, traceIds, tracesUrl } from './tracing.ts';

const PARENT = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('tracing', () => {
  test('without an OTLP endpoint nothing is recorded, yet a traceparent received is passed on', async () => {
    expect(tracesUrl({})).toBeUndefined();
    expect(await startTracing('unit', {})).toBe(false);
    const parent = extractContext((name) => (name === 'traceparent' ? PARENT : undefined));
    const { span, ctx } = startSpan('GET /x', SpanKind.SERVER, parent);
    expect(span.isRecording()).toBe(false);
    expect(injectContext(ctx, {})).toEqual({ traceparent: PARENT });
    // Nothing received, nothing invented.
    const alone = startSpan('GET /x', SpanKind.SERVER, ROOT_CONTEXT);
    expect({ recording: alone.span.isRecording(), sent: injectContext(alone.ctx, {}), ids: traceIds(alone.ctx) }).toEqual({ recording: false, sent: {}, ids: undefined });
    // A malformed traceparent is ignored.
    expect(traceIds(extractContext((name) => (name === 'traceparent' ? '00-zz-yy-01' : undefined)))).toBeUndefined();
  });

  test('the endpoint: …_TRACES_ENDPOINT as it is, or OTEL_EXPORTER_OTLP_ENDPOINT with /v1/traces', () => {
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe('http://collector:4318/v1/traces');
    expect(tracesUrl({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://b/traces' })).toBe('http://b/traces');
  });

  test('with one, spans are children of the traceparent received and are exported over OTLP/HTTP by the time tracing stops', async () => {
    const bodies: any[] = [];
    const receiver = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      fetch: async (request) => {
        bodies.push({ path: new URL(request.url).pathname, type: request.headers.get('content-type'), body: await request.json() });
        return Response.json({});
      },
    });
    try {
      expect(await startTracing('unit-service', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}` })).toBe(true);
      const parent = extractContext((name) => (name === 'traceparent' ? PARENT : undefined));
      const { span, ctx } = startSpan('POST /post/{id}/comment', SpanKind.SERVER, parent, { 'http.route': '/post/{id}/comment' });
      expect(span.isRecording()).toBe(true);
      const child = startSpan('process events.feed.commented', SpanKind.CONSUMER, extractContext((name) => injectContext(ctx, {})[name]));
      endSpan(child.span, new Error('failed once'));
      endSpan(span);
      expect(bodies).toHaveLength(0); // batched: not sent yet
      await stopTracing();
      expect(bodies.map((b) => [b.path, b.type])).toEqual([['/v1/traces', 'application/json']]);
      const resource = bodies[0].body.resourceSpans[0];
      expect(resource.resource.attributes).toContainEqual({ key: 'service.name', value: { stringValue: 'unit-service' } });
      const spans = resource.scopeSpans.flatMap((s: any) => s.spans);
      const server = spans.find((s: any) => s.name === 'POST /post/{id}/comment');
      const consumer = spans.find((s: any) => s.name === 'process events.feed.commented');
      expect(server).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', parentSpanId: 'b7ad6b7169203331', kind: 2 });
      expect(consumer).toMatchObject({ traceId: server.traceId, parentSpanId: server.spanId, kind: 5, status: { code: 2, message: 'failed once' } });
      // Stopped: back to the no-op tracer.
      expect(startSpan('x', SpanKind.SERVER, ROOT_CONTEXT).span.isRecording()).toBe(false);
    } finally {
      await stopTracing();
      receiver.stop(true);
    }
  });

  test('a collector that never answers holds the stop up no longer than its bound', async () => {
    const silent = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Promise<Response>(() => {}) });
    try {
      expect(await startTracing('unit-silent', { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${silent.port}` })).toBe(true);
      endSpan(startSpan('GET /x', SpanKind.SERVER, ROOT_CONTEXT).span);
      const started = performance.now();
      await stopTracing(300);
      // (bounded at 300 ms; twice that and more is a hang, whatever the machine is doing)
      expect(performance.now() - started).toBeLessThan(2000);
    } finally {
      silent.stop(true);
    }
  });
});
