import { errorBody } from '../http/app.ts';
import type { Logger } from '../observability/log.ts';
import { acceptRequestId, REQUEST_ID_HEADER } from '../observability/request-context.ts';

/**
 * The reverse proxy of the local split topology: one base URL for a product whose modules run as
 * separate processes, routing each path to its module's processes. It does what
 * docker/nginx/minifb.conf does in compose (test/compose.test.ts holds the two to the same
 * routes):
 *
 * - a path belongs to the module that declares its first segment (`/post` → feed);
 * - a module's processes take turns (round robin);
 * - a process that refuses the connection is passed over for a while, and the request goes to
 *   the next one — any method, since nothing was sent; after another failure only idempotent
 *   methods are tried again elsewhere (nginx's rule: POST and PATCH may have been applied);
 * - every answer says which process gave it (`x-upstream`), and when none could, 502;
      if (request.method === 'GET' || request.method === 'HEAD') {
        if (url.pathname === '/healthz') return new Response(JSON.stringify({ status: 'alive' }), { headers: { 'content-type': 'application/json; charset=utf-8' } });
        if (url.pathname === '/readyz') return readiness();
      }
 * - every request has an `X-Request-Id` (the client's when it is safe, else a new one) before it
 *   is passed on, so the process and the proxy's own line (one per request: debug when a process
 *   answered, which logs it too) name the same id.
 */
export interface ProxyRoute {
  /** `/post` covers `/post` and `/post/14/comment`, not `/postal`. */
  prefix: string;
  /** Base URLs of the module's processes. */
  upstreams: string[];
}

export interface ProxyOptions {
  port: number;
  hostname?: string;
  routes: ProxyRoute[];
  /** Where a path no module declares goes (it answers the product's 404). */
  fallback: string[];
  log: Logger;
  /** How long a process that refused a connection is passed over. */
  downForMs?: number;
}

const NON_IDEMPOTENT = new Set(['POST', 'PATCH', 'LOCK']);
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'content-length'];

export function startProxy(options: ProxyOptions) {
  const { log } = options;
  const downFor = options.downForMs ?? 2000;
  const down = new Map<string, number>();
  const turns = new Map<string[], number>();
  const byPrefix = [...options.routes].sort((a, b) => b.prefix.length - a.prefix.length);

  const upstreamsOf = (path: string) => byPrefix.find((r) => path === r.prefix || path.startsWith(`${r.prefix}/`))?.upstreams ?? options.fallback;

  /** The module's processes, starting with the next in turn; those passed over come last. */
  function order(upstreams: string[]): string[] {
    const turn = turns.get(upstreams) ?? 0;
    turns.set(upstreams, turn + 1);
    const rotated = upstreams.map((_, i) => upstreams[(turn + i) % upstreams.length]!);
    const now = Date.now();
    return [...rotated.filter((u) => (down.get(u) ?? 0) <= now), ...rotated.filter((u) => (down.get(u) ?? 0) > now)];
  }

  /** The module behind each group of paths, by its processes. */
  const groups = new Map<string, { upstreams: string[]; prefixes: string[] }>();
  for (const { prefix, upstreams } of [...options.routes, { prefix: '/', upstreams: options.fallback }]) {
    const key = upstreams.join(' ');
    const group = groups.get(key) ?? { upstreams, prefixes: [] };
    group.prefixes.push(prefix);
    groups.set(key, group);
  }
  /** Why `upstream` is not ready, or undefined when it is. */
  const notReady = async (upstream: string): Promise<string | undefined> => {
    try {
      const res = await fetch(`${upstream}/readyz`, { signal: AbortSignal.timeout(1500) });
      if (res.status === 200) return undefined;
      const body = (await res.json().catch(() => null)) as { hint?: unknown } | null;
      return typeof body?.hint === 'string' ? body.hint : `answered ${res.status}`;
    } catch (error) {
      return `not answering (${(error as Error).message})`;
    }
  };
  async function readiness(): Promise<Response> {
    const problems = await Promise.all(
      [...groups.values()].map(async ({ upstreams, prefixes }) => {
        const why = await Promise.all(upstreams.map(notReady));
        if (why.some((w) => w === undefined)) return undefined;
        const detail = upstreams.length === 0 ? 'none is configured' : upstreams.map((u, i) => `${u}: ${why[i]}`).join(', ');
        return `no process for ${prefixes.join(' ')} is ready (${detail})`;
      }),
    );
    const found = problems.filter((p): p is string => p !== undefined);
    if (found.length === 0) return new Response(JSON.stringify({ status: 'ready' }), { headers: { 'content-type': 'application/json; charset=utf-8' } });
    return json(503, found.join('; '));
  }

  const server = bindOwn(options.port, () => Bun.serve({
    port: options.port,
    hostname: options.hostname ?? '0.0.0.0',
    reusePort: false,
    async fetch(request, srv) {
      const started = performance.now();
      const url = new URL(request.url);
      if (request.method === 'GET' || request.method === 'HEAD') {
        if (url.pathname === '/healthz') return new Response(JSON.stringify({ status: 'alive' }), { headers: { 'content-type': 'application/json; charset=utf-8' } });
        if (url.pathname === '/readyz') return readiness();
      }
      const requestId = acceptRequestId(request.headers.get(REQUEST_ID_HEADER)) ?? crypto.randomUUID();
      const response = await forward(request, url, srv.requestIP(request)?.address ?? '', requestId);
      response.headers.set(REQUEST_ID_HEADER, requestId);
      const ms = Math.round((performance.now() - started) * 10) / 10;
      // The process that answered logged the request (same id) at info; the proxy's own answers too.
      const upstream = response.headers.get('x-upstream');
      const fields = { method: request.method, path: url.pathname, status: response.status, ms, reqId: requestId, upstream };
      if (response.status === 502) log.info('request', fields);
      else log.debug('request', fields);
      return response;
    },
  }));

  async function forward(request: Request, url: URL, clientIp: string, requestId: string): Promise<Response> {
    const headers = new Headers(request.headers);
    for (const h of HOP_BY_HOP) headers.delete(h);
    headers.set('x-forwarded-for', clientIp);
    headers.set('x-forwarded-host', url.host);
    headers.set(REQUEST_ID_HEADER, requestId);
    // Small API bodies: read once, so that a request can be sent to another process.
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
    let last: unknown;
    for (const upstream of order(upstreamsOf(url.pathname))) {
      try {
        const res = await fetch(`${upstream}${url.pathname}${url.search}`, { method: request.method, headers, body, redirect: 'manual' });
        const out = new Headers(res.headers);
        out.delete('content-encoding'); // fetch has decoded the body already
        out.delete('content-length');
        out.set('x-upstream', upstream);
        return new Response(res.body, { status: res.status, statusText: res.statusText, headers: out });
      } catch (error) {
        last = error;
        const refused = (error as { code?: string }).code === 'ECONNREFUSED';
        down.set(upstream, Date.now() + downFor);
        log.warn('proxy: a process did not answer', { upstream, path: url.pathname, refused, error: error as Error });
        // A request that may have reached a dying process is not sent twice unless it is idempotent.
        if (!refused && NON_IDEMPOTENT.has(request.method)) {
          return json(502, `the process at ${upstream} failed while answering; the request may or may not have been applied`, upstream);
        }
      }
    }
    return json(502, `no process answered ${url.pathname}: ${(last as Error)?.message ?? 'none is configured'}`);
  }

  log.info('proxy listening', { port: server.port, hostname: options.hostname ?? '0.0.0.0', routes: options.routes.map((r) => `${r.prefix} → ${r.upstreams.join(' ')}`) });
  /** Stops accepting and answers what is in flight; `force` cuts it at once. */
  return { server, port: server.port!, stop: (force = false) => server.stop(force) };
}

/** A port of its own (no SO_REUSEPORT): one already taken is an error naming it. */
function bindOwn<T>(port: number, serve: () => T): T {
  try {
    return serve();
  } catch (error) {
    if ((error as { code?: string }).code === 'EADDRINUSE') throw new Error(`port ${port} is already in use: the proxy does not share it`);
    throw error;
  }
}

function json(status: number, hint: string, upstream?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (upstream) headers['x-upstream'] = upstream;
  return new Response(JSON.stringify(errorBody(status, hint)), { status, headers });
}
