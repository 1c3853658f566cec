import { describe, expect, test } from 'bun:test';
import pg from 'pg';
import { REQUESTS_SUBJECT, type RequestBatch } from '../platform/observability/telemetry.ts';
import { PG_ADMIN_URL, whileDatabaseDown } from './support/shop.ts';
import { ADMIN, minifbForSuite, type Backend, type Minifb } from './support/minifb.ts';

/**
 * minifb statistics (shared/specs/minifb.md, "Statistics"): a known mix of requests — 2xx, 4xx,
 * 5xx, unknown routes — and every figure of GET /admin/stats checked against it; reports from
 * another process add up; the owners' totals; /metrics; the dashboard's doors.
 */
describe.each(['pg', 'split'] as Backend[])('minifb statistics on %s', (backend) => {
  let fb: Minifb;
  let admin: string;
  /** What the figures must show: every request sent, by route pattern and status. */
  const sent: { endpoint: string; status: number }[] = [];

  const send = async (endpoint: string, method: string, path: string, options: Parameters<Minifb['call']>[2] = {}) => {
    const res = await fb.call(method, path, options);
    sent.push({ endpoint, status: res.status });
    return res;
  };
  /** The requests sent before the last one (the GET /admin/stats that answered), counted by `key`. */
  const tally = (key: 'endpoint' | 'status') => {
    const out: Record<string, number> = {};
    for (const r of sent.slice(0, -1)) out[String(r[key])] = (out[String(r[key])] ?? 0) + 1;
    return out;
  };
  /**
   * GET /admin/stats until it counts everything sent before it. Each process reports once a
   * second, and every poll is a request too: polls are spaced by more than a report.
   */
  const statsCountingEverything = async (extra = 0) => {
    let last: unknown;
    for (let attempt = 0; attempt < 12; attempt++) {
      await Bun.sleep(1200);
      const expected = sent.length + extra;
      const res = await send('GET /admin/stats', 'GET', '/admin/stats', { token: admin });
      if (res.body.requestsLast24h === expected) return res.body;
      last = res.body;
    }
    throw new Error(`the statistics never counted every request: ${JSON.stringify(last)}`);
  };

  minifbForSuite({ backend }, (started) => (fb = started));

  test('every figure matches a known mix of 2xx, 4xx and 5xx requests', async () => {
    admin = (await send('POST /auth', 'POST', '/auth', { body: ADMIN })).body.accessToken;
    await send('POST /signup', 'POST', '/signup', { body: { id: 'writer', pw: 'a fine password', name: 'Writer' } });
    await send('POST /signup', 'POST', '/signup', { body: { id: 'reader', pw: 'a fine password', name: 'Reader' } });
    await send('POST /signup', 'POST', '/signup', { body: { id: 'writer', pw: 'a fine password', name: 'Again' } }); // 409
    const writer = (await send('POST /auth', 'POST', '/auth', { body: { id: 'writer', pw: 'a fine password' } })).body.accessToken;
    await send('POST /auth', 'POST', '/auth', { body: { id: 'writer', pw: 'not the password' } }); // 401
    const posts: number[] = [];
    for (let i = 0; i < 3; i++) posts.push((await send('POST /post', 'POST', '/post', { token: writer, body: { content: `p${i}` } })).body.id);
    await send('GET /post/{id}', 'GET', `/post/${posts[0]}`, { token: writer });
    await send('GET /post/{id}', 'GET', `/post/${posts[1]}`, { token: writer });
    await send('GET /post/{id}', 'GET', '/post/999999', { token: writer }); // 404
    await send('POST /post', 'POST', '/post', { token: writer, body: { content: '' } }); // 400
    await send('GET /me', 'GET', '/me'); // 401
    await send('GET /admin/stats', 'GET', '/admin/stats', { token: writer }); // 403
    await send('GET (no route)', 'GET', '/no/such/route'); // 404
    await send('PUT (no route)', 'PUT', '/post'); // 405
    // Not API traffic, not counted: the API document (health checks read it), docs, scrapes.
    for (const path of ['/openapi.json', '/docs', '/metrics']) expect((await fb.call('GET', path)).status).toBe(200);

    // A 5xx: the feed's database refuses connections, so a post cannot be written (503).
    await whileDatabaseDown(fb.databases.feed!, async () => {
      const refused = await send('POST /post', 'POST', '/post', { token: writer, body: { content: 'cannot be stored' } });
      expect(refused).toMatchObject({ status: 503, body: { result: 'Service Unavailable' } });
    });

    const stats = await statsCountingEverything();
    expect(Object.keys(stats).sort()).toEqual(['byEndpoint', 'byStatus', 'postsToday', 'requestsLast24h', 'rps', 'totalPosts', 'totalUsers']);
    expect(stats.byStatus).toEqual(tally('status'));
    expect(stats.byEndpoint).toEqual(tally('endpoint'));
    expect(Object.keys(stats.byStatus).sort()).toEqual(['200', '201', '400', '401', '403', '404', '405', '409', '503']);
    // Every request was sent within the last minute: rps is their number over 60 s.
    expect(stats.rps).toBeCloseTo(stats.requestsLast24h / 60, 2);
    expect(stats).toMatchObject({ totalUsers: 3, totalPosts: 3, postsToday: 3 });
  }, 60000);

  test("another process's reports add up with this one's", async () => {
    const before = await statsCountingEverything();
    const second = Math.floor(Date.now() / 1000) - 1;
    const batch: RequestBatch = {
      process: 'another-process',
      product: 'minifb',
      second,
      total: 7,
      byStatus: { '200': 5, '500': 2 },
      byEndpoint: { 'GET /post': 5, 'POST /post': 2 },
    };
    await fb.bus.publish(REQUESTS_SUBJECT, batch, { msgId: `another-process:minifb:${second}` });
    // The same report again (a retry) is not counted twice.
    await fb.bus.publish(REQUESTS_SUBJECT, batch, { msgId: `another-process:minifb:${second}:retry` });
    const after = await statsCountingEverything(7);
    expect(after.byStatus['500']).toBe(2);
    expect(after.byEndpoint['GET /post']).toBe(5);
    expect(after.byEndpoint['POST /post']).toBe(before.byEndpoint['POST /post'] + 2);
  }, 30000);

  test('posts today — counted from midnight in the configured time zone (Asia/Seoul by default), by the feed', async () => {
    const feed = new pg.Client({ connectionString: Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${fb.databases.feed}` }).toString() });
    await feed.connect();
    try {
      // Midnight in Seoul (UTC+9, no daylight saving time) of today, Seoul's calendar.
      const [y, m, d] = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Seoul' }).format(new Date()).split('-').map(Number) as [number, number, number];
      const midnight = Date.UTC(y, m - 1, d) - 9 * 3_600_000;
      const totals = (timeZone: string) => fb.bus.request<{ totalPosts: number; postsToday: number }>('feed.totals', { timeZone });
      const before = await totals('Asia/Seoul');
      await feed.query("INSERT INTO post (owner_id, content, created_at) VALUES ('writer', 'last night', $1), ('writer', 'this morning', $2)", [
        new Date(midnight - 1000),
        new Date(Math.min(midnight + 1000, Date.now())),
      ]);
      expect((await totals('Asia/Seoul')).postsToday).toBe(before.postsToday + 1);
      // In UTC the day may begin earlier or later; the post of Seoul's last night is yesterday in Seoul only.
      const utcMidnight = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
      const expectedUtc = [midnight - 1000, Math.min(midnight + 1000, Date.now())].filter((t) => t >= utcMidnight).length;
      const utcBefore = before.postsToday; // the three posts of this suite were made now: today everywhere
      expect((await totals('UTC')).postsToday).toBe(utcBefore + expectedUtc);
      expect(await fb.bus.request('feed.totals', { timeZone: 'Mars/Olympus' }).catch((e) => e.code)).toBe('FEED.INVALID');
    } finally {
      await feed.end();
    }
  });

  test('series — requests of each second of the last hour, for the chart', async () => {
    const res = await send('GET /admin/stats/series', 'GET', '/admin/stats/series', { token: admin });
    expect(res.status).toBe(200);
    expect(res.body.step).toBe(1);
    expect(res.body.counts).toHaveLength(3600);
    expect(Math.abs(res.body.from - (Math.floor(Date.now() / 1000) - 3600))).toBeLessThanOrEqual(2);
    expect(res.body.counts.reduce((a: number, b: number) => a + b, 0)).toBeGreaterThanOrEqual(sent.length - 3);
    expect((await send('GET /admin/stats/series', 'GET', '/admin/stats/series')).status).toBe(401);
  });

  test('only administrators: 401 without a token, 403 for a user', async () => {
    const user = (await send('POST /auth', 'POST', '/auth', { body: { id: 'reader', pw: 'a fine password' } })).body.accessToken;
    expect(await send('GET /admin/stats', 'GET', '/admin/stats')).toMatchObject({ status: 401 });
    expect(await send('GET /admin/stats', 'GET', '/admin/stats', { token: user })).toMatchObject({ status: 403, body: { result: 'Forbidden', hint: 'only an administrator may do this' } });
  });

  test('/metrics — the Prometheus text format, counting what this process answered', async () => {
    const res = await fb.call('GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toStartWith('text/plain; version=0.0.4');
    // Each process counts what it answered: add up every process's lines.
    const text = await fb.metricsText();
    const count = (endpoint: string, status: number) => {
      const [method, route] = [endpoint.slice(0, endpoint.indexOf(' ')), endpoint.slice(endpoint.indexOf(' ') + 1)];
      const labels = `method="${method}",route="${route.replace(/[{}()]/g, '\\$&')}",status_code="${status}",api="[^"]*"`;
      return [...text.matchAll(new RegExp(`^http_request_duration_seconds_count\\{${labels}\\} (\\d+)$`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0);
    };
    const expected = sent.filter((r) => r.endpoint === 'POST /signup' && r.status === 201).length;
    expect(count('POST /signup', 201)).toBe(expected);
    expect(count('POST /post', 503)).toBe(1);
    expect(count('PUT (no route)', 405)).toBe(1);
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(text).toContain('# TYPE process_cpu_seconds_total counter'); // prom-client's defaults
    expect(text).toContain('bus_connected 1');
  });
});

describe('minifb statistics: the dashboard', () => {
  let fb: Minifb;

  minifbForSuite({ backend: 'pglite' }, (started) => (fb = started));

  test('GET /admin — 401 without an administrator: the login form for a browser, {result, hint} for anyone else', async () => {
    const browser = await fb.call('GET', '/admin', { headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(browser.status).toBe(401);
    expect(browser.headers.get('content-type')).toStartWith('text/html');
    expect(browser.text).toContain('data-state="login"');
    expect(browser.text).toContain('<form id="login">');
    expect(await fb.call('GET', '/admin')).toMatchObject({ status: 401, body: { result: 'Unauthorized', hint: 'log in as an administrator' } });
  });

  test('GET /admin — 403 for a user who is not an administrator; an invalid cookie is 401', async () => {
    const token = await fb.user('plain-user');
    expect(await fb.call('GET', '/admin', { token })).toMatchObject({ status: 403, body: { result: 'Forbidden' } });
    const page = await fb.call('GET', '/admin', { headers: { cookie: `minifb_admin=${token}`, accept: 'text/html' } });
    expect(page.status).toBe(403);
    expect(page.text).toContain('only an administrator may do this');
    expect((await fb.call('GET', '/admin', { headers: { cookie: 'minifb_admin=garbage', accept: 'text/html' } })).status).toBe(401);
  });

  test('GET /admin — the dashboard for an administrator, by Bearer token or by the /admin cookie', async () => {
    const admin = (await fb.login(ADMIN.id, ADMIN.pw)).accessToken;
    for (const headers of [{ authorization: `Bearer ${admin}` }, { cookie: `other=1; minifb_admin=${admin}` }] as Record<string, string>[]) {
      const page = await fb.call('GET', '/admin', { headers });
      expect(page.status).toBe(200);
      expect(page.text).toContain('data-state="dashboard"');
      for (const id of ['chart-rps', 'chart-status', 'chart-endpoints']) expect(page.text).toContain(`id="${id}"`);
    }
  });

  test('the dashboard script and stylesheet are bundled and served by the module (no CDN)', async () => {
    const js = await fb.call('GET', '/admin/dashboard.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toStartWith('text/javascript');
    expect(js.text.length).toBeGreaterThan(50_000); // Chart.js is in it
    expect(js.text).not.toMatch(/https?:\/\/(cdn|unpkg|cdnjs)/);
    const css = await fb.call('GET', '/admin/dashboard.css');
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toStartWith('text/css');
  });
});
