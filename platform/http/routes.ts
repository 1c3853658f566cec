/**
 * The routes an app serves, as patterns: which pattern a request hit (`GET /post/{id}`, for the
 * statistics and the metrics), and which methods a path has when the one asked for is not
 * among them (405 with `Allow`, instead of a 404 for a path that exists).
 */
export interface RouteMatch {
  /** `GET /post/{id}`: the method and the route's path pattern. */
  pattern: string;
  /** `/post/{id}`: the path pattern alone. */
  route: string;
}

/** The API's documentation (`/openapi.json`, `/docs`…): open to anyone, and no API traffic. */
export const isDocumentation = (path: string): boolean => path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');

/** The path of a request's URL, without its query: `http://host/post/7?x=1` → `/post/7`. */
export function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  const q = url.indexOf('?', start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

interface CompiledRoute {
  method: string;
  path: string;
  regex: RegExp;
  /** Static segments weigh more than parameters, as in the router: `/me` beats `/{id}`. */
  weight: number;
  /** What a hit answers, made once per method asked with (GET, and HEAD served by it). */
  matches: Map<string, RouteMatch>;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class RouteTable {
  private readonly routes: CompiledRoute[];

  constructor(routes: readonly { method: string; path: string }[]) {
    this.routes = routes
      .filter((r) => r.method !== 'ALL' && !r.path.includes('*'))
      .map((r) => {
        const segments = r.path.split('/').filter(Boolean);
        const source = segments.map((s) => (s.startsWith(':') ? '[^/]+' : escape(s))).join('/');
        return {
          method: r.method,
          path: '/' + segments.map((s) => (s.startsWith(':') ? `{${s.slice(1).replace(/\?$/, '')}}` : s)).join('/'),
          regex: new RegExp(`^/${source}/?$`),
          weight: segments.reduce((w, s, i) => w + (s.startsWith(':') ? 0 : 2 ** (16 - i)), 0),
          matches: new Map(),
        };
      })
      .sort((a, b) => b.weight - a.weight);
  }

  /** The pattern that serves `method path`, or undefined. HEAD is served by GET. */
  match(method: string, path: string): RouteMatch | undefined {
    const wanted = method === 'HEAD' ? 'GET' : method;
    const hit = this.routes.find((r) => r.method === wanted && r.regex.test(path));
    if (!hit) return undefined;
    let match = hit.matches.get(method);
    if (!match) hit.matches.set(method, (match = { pattern: `${method} ${hit.path}`, route: hit.path }));
    return match;
  }

  /** Methods some route serves `path` with (empty when no route has the path at all). */
  allowed(path: string): string[] {
    return [...new Set(this.routes.filter((r) => r.regex.test(path)).map((r) => r.method))].sort();
  }
}

/**
 * A port's routes: the table, made from its app's routes when first asked (they are all declared
 * by then), and the route each request hit, matched once however many layers ask — the log line
 * and trace, the request metrics, minifb's statistics.
 */
export class PortRoutes {
  private built: RouteTable | undefined;
  private readonly hits = new WeakMap<Request, RouteMatch | null>();

  constructor(private readonly routes: () => readonly { method: string; path: string }[]) {}

  get table(): RouteTable {
    return (this.built ??= new RouteTable(this.routes()));
  }

  /** The route `request` hit, or undefined when none serves it. */
  of(request: Request): RouteMatch | undefined {
    let hit = this.hits.get(request);
    if (hit === undefined) this.hits.set(request, (hit = this.table.match(request.method, pathOf(request.url)) ?? null));
    return hit ?? undefined;
  }
}
