/**
 * The routes an app serves, as patterns: which pattern a request hit (`GET /post/{id}`, for the
 * statistics and the metrics), and which methods a path has when the one asked for is not
 * among them (405 with `Allow`, instead of a 404 for a path that exists).
 */
export interface RouteMatch {
  /** `GET /post/{id}`: the method and the route's path pattern. */
  pattern: string;
}

interface CompiledRoute {
  method: string;
  path: string;
  regex: RegExp;
  /** Static segments weigh more than parameters, as in the router: `/me` beats `/{id}`. */
  weight: number;
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
        };
      })
      .sort((a, b) => b.weight - a.weight);
  }

  /** The pattern that serves `method path`, or undefined. HEAD is served by GET. */
  match(method: string, path: string): RouteMatch | undefined {
    const wanted = method === 'HEAD' ? 'GET' : method;
    const hit = this.routes.find((r) => r.method === wanted && r.regex.test(path));
    return hit && { pattern: `${method} ${hit.path}` };
  }

  /** Methods some route serves `path` with (empty when no route has the path at all). */
  allowed(path: string): string[] {
    return [...new Set(this.routes.filter((r) => r.regex.test(path)).map((r) => r.method))].sort();
  }
}
