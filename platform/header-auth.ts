import { Elysia } from 'elysia';
import { DomainError } from './errors.ts';

export interface HeaderAuthOptions<U> {
  /** Plugin name (Elysia de-duplicates plugins by name). */
  name: string;
  /** Header that carries the token, as clients write it (e.g. `USER-TOKEN`). */
  header: string;
  /** Finds the caller; throws a DomainError (UNAUTHORIZED, UNAVAILABLE) when it cannot. */
  authenticate: (token: string) => U | Promise<U>;
}

const open = (path: string) => path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');

function pathOf(url: string): string {
  const start = url.indexOf('/', url.indexOf('//') + 2);
  if (start < 0) return '/';
  const q = url.indexOf('?', start);
  return q < 0 ? url.slice(start) : url.slice(start, q);
}

/**
 * Authenticates every request of the port by a header token before anything else happens to it
 * (a request without a valid token is 401 even when its body is malformed), and gives the
 * handlers `user`. The API documentation stays open.
 */
export function headerAuth<U>({ name, header, authenticate }: HeaderAuthOptions<U>) {
  const callers = new WeakMap<Request, U>();
  return new Elysia({ name })
    .onRequest(({ request }) => {
      if (open(pathOf(request.url))) return;
      const token = request.headers.get(header);
      if (!token) throw new DomainError('AUTH.UNAUTHORIZED', `${header} header is missing`);
      const found = authenticate(token);
      if (found instanceof Promise) return found.then((u) => void callers.set(request, u));
      callers.set(request, found);
    })
    .resolve({ as: 'global' }, ({ request }) => ({ user: callers.get(request) as U }));
}
