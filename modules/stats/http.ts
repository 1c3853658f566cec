import { Elysia } from 'elysia';
import { type Static, Type } from '@sinclair/typebox';
import type { Caller } from '../account/contract/index.ts';
import { bearerAuth, BearerHeader, bearerErrors, bearerToken, callerOf, guarded, verifyToken, type AuthLevel, type CallerCheck } from '../../platform/http/bearer-auth.ts';
import type { Clock } from '../../platform/clock.ts';
import { DomainError, httpStatusOf } from '../../platform/errors.ts';
import { errorBody } from '../../platform/http/app.ts';
import { ErrorBody } from '../../platform/http/schemas.ts';
import type { JwtClaims } from '../../platform/jwt.ts';
import type { DashboardAssets } from './dashboard/build.ts';
import { adminCookie } from './dashboard/cookie.ts';
import { dashboardPage } from './dashboard/page.ts';
import type { StatsUseCases } from './use-cases.ts';

const Stats = Type.Object({
  rps: Type.Number({ description: 'Requests per second, mean over the last 60 s' }),
  requestsLast24h: Type.Integer(),
  byStatus: Type.Record(Type.String(), Type.Integer(), { description: 'Status code → requests, last 24 h' }),
  byEndpoint: Type.Record(Type.String(), Type.Integer(), { description: 'Route pattern → requests, last 24 h' }),
  totalPosts: Type.Integer(),
  totalUsers: Type.Integer(),
  postsToday: Type.Integer({ description: 'Posts since midnight in MINIFB_TIME_ZONE' }),
});
const Series = Type.Object({
  from: Type.Integer({ description: 'Unix time of the first second' }),
  step: Type.Integer({ description: 'Seconds between counts' }),
  counts: Type.Array(Type.Integer(), { description: 'Requests in each second of the last hour' }),
});
/** What GET /admin answers when it refuses: the login page for a browser, the envelope for a program. */
const pageOrError = { 'text/html': { schema: { type: 'string' as const } }, 'application/json': { schema: ErrorBody } };

/** What GET /admin/stats and GET /admin/stats/series answer (the dashboard reads these types too). */
export type StatsAnswer = Static<typeof Stats>;
export type SeriesAnswer = Static<typeof Series>;

export function statsHttp(useCases: StatsUseCases, caller: (claims: JwtClaims, level: AuthLevel) => Promise<CallerCheck<Caller>>, tokens: { secret: string; clock: Clock }, assets: DashboardAssets) {
  const html = (body: string, status = 200) => new Response(body, { status, headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' } });
  const asset = (body: string, type: string) => new Response(body, { headers: { 'content-type': `${type}; charset=utf-8`, 'cache-control': 'public, max-age=300' } });

  return new Elysia({ name: 'stats.http' })
    .use(bearerAuth({ name: 'stats.auth', ...tokens, caller }))
    .get('/admin/stats', () => useCases.stats(), {
      ...guarded('admin'),
      response: { 200: Stats, ...bearerErrors(403) },
      detail: { summary: 'Administrators: request statistics of every minifb process, and totals', tags: ['statistics'] },
    })
    .get('/admin/stats/series', () => useCases.series(), {
      ...guarded('admin'),
      response: { 200: Series, ...bearerErrors(403) },
      detail: { summary: 'Administrators: requests per second over the last hour (the dashboard chart)', tags: ['statistics'] },
    })
    .get(
      '/admin',
      async ({ request }) => {
        // The page is for a browser, which cannot send a Bearer header when it navigates: the
        // dashboard keeps the access token in a cookie scoped to /admin as well.
        const token = request.headers.get('authorization') ? bearerToken(request.headers.get('authorization')) : adminCookie(request.headers.get('cookie'));
        try {
          if (!token) throw new DomainError('STATS.UNAUTHORIZED', 'log in as an administrator');
          callerOf(await caller(await verifyToken(token, tokens.secret, 'access', tokens.clock), 'admin'));
          return html(dashboardPage('dashboard'));
        } catch (error) {
          if (!(error instanceof DomainError) || !['UNAUTHORIZED', 'FORBIDDEN'].includes(error.kind)) throw error;
          const status = httpStatusOf[error.kind];
          if (!(request.headers.get('accept') ?? '').includes('text/html')) {
            return new Response(JSON.stringify(errorBody(status, error.message)), { status, headers: { 'content-type': 'application/json; charset=utf-8' } });
          }
          return html(dashboardPage('login', token ? error.message : ''), status);
        }
      },
      {
        headers: BearerHeader,
        detail: {
          summary: 'Administrators: the statistics dashboard (HTML). Without an administrator token it is 401, and a browser gets the login form',
          tags: ['statistics'],
          responses: {
            200: { description: 'The dashboard', content: { 'text/html': { schema: { type: 'string' as const } } } },
            401: { description: 'Not logged in: the login form for a browser (Accept: text/html), the error envelope for anyone else', content: pageOrError },
            403: { description: 'Not an administrator: the login form for a browser, the error envelope for anyone else', content: pageOrError },
          },
        },
      },
    )
    .get('/admin/dashboard.js', () => asset(assets.js, 'text/javascript'), { detail: { hide: true } })
    .get('/admin/dashboard.css', () => asset(assets.css, 'text/css'), { detail: { hide: true } });
}
