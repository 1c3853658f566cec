import type { Operation } from './api-document.ts';
import { aliveResponse, healthOperations, type Readiness } from '../observability/health.ts';
import type { Metrics } from '../observability/metrics.ts';
import { pathOf, type PortRoutes } from './routes.ts';

/**
 * What every port answers beside its app, for operators: `/healthz`, `/readyz` (health.ts) and
 * `/metrics` (metrics.ts), without authentication; and the time every request took, by route
 * pattern, into the process's metrics.
 */
type Handler = (request: Request) => Promise<Response>;

const METRICS_OPERATION: Record<string, Operation> = {
  get: {
    summary: "Prometheus metrics of this process: requests by route and status, the runtime's, outbox, copies, consumers, the bus's state",
    tags: ['operations'],
    operationId: 'getMetrics',
    security: [],
    responses: { 200: { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } } },
  },
};

const NOT_READY = { homeshopping: 'item database unreachable; copy of users not ready', minifb: 'feed database unreachable; copy of accounts not ready' };

/** The operations answered beside the app, for the port's OpenAPI document. */
export const operationsPaths = (product: keyof typeof NOT_READY): Record<string, Record<string, Operation>> => ({ ...healthOperations(NOT_READY[product]), '/metrics': METRICS_OPERATION });

export interface OperationsOptions {
  /** The port's routes: they name what a request hit. */
  routes: PortRoutes;
  /** The modules of the port (`item`; `account,feed,notification,stats`), the metrics' `api` label. */
  api: string;
  metrics: Metrics;
  readiness: Readiness;
}

export function withOperations(handler: Handler, { routes, api, metrics, readiness }: OperationsOptions): Handler {
  const operation = async (request: Request, path: string, started: number): Promise<Response> => {
    const response =
      path === '/healthz' ? aliveResponse() : path === '/readyz' ? await readiness.response() : new Response(await metrics.text(), { headers: { 'content-type': metrics.contentType } });
    metrics.observeRequest(request.method, path, response.status, api, (performance.now() - started) / 1000);
    return response;
  };
  return (request) => {
    const started = performance.now();
    const get = request.method === 'GET' || request.method === 'HEAD';
    const path = get ? pathOf(request.url) : '';
    if (path === '/healthz' || path === '/readyz' || path === '/metrics') return operation(request, path, started);
    return handler(request).then((response) => {
      metrics.observeRequest(request.method, routes.of(request)?.route ?? '(no route)', response.status, api, (performance.now() - started) / 1000);
      return response;
    });
  };
}
