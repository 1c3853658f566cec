import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { ADMIN, PASSWORD, eventually, startMinifb, type Minifb } from './support/minifb.ts';
import type { Clock } from '../platform/clock.ts';

/**
 * The statistics dashboard in a real browser: Debian's Chromium, headless, driven by
 * playwright-core (which never downloads a browser of its own). An administrator logs in at
 * /admin and sees the figures of GET /admin/stats and /admin/stats/series drawn as charts;
 * a screenshot is kept in test-artifacts/.
 *
 * The figures move while the test runs (the browser's own requests are counted too, reported
 * once a second), so the page's numbers are checked to lie between a GET /admin/stats made
 * before the page fetched them and one made after it was read.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(import.meta.dir, '..', 'test-artifacts', 'minifb-dashboard.png');
const CHARTS = ['chart-rps', 'chart-status', 'chart-endpoints'] as const;

interface Stats {
  rps: number;
  requestsLast24h: number;
  byStatus: Record<string, number>;
  byEndpoint: Record<string, number>;
  totalPosts: number;
  totalUsers: number;
  postsToday: number;
}
interface Series {
  from: number;
  step: number;
  counts: number[];
}
interface Figures {
  labels: string[];
  values: number[];
}

let browser: Browser;

beforeAll(async () => {
  // Not a skip: CI installs Chromium (.ci/run, step "Chromium (browser tests)").
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: install it with \`apt-get install -y chromium\` (.ci/run does) to run the dashboard's browser test`);
  }
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-quic', '--no-first-run', '--disable-sync'],
  });
}, 60000);

afterAll(async () => {
  await browser?.close();
}, 30000);

/**
 * Before the describe's tests: minifb in this process (pglite, `env` added), its port on a real
 * socket at `base` for the browser, and a page in a browser context of its own; after them, all
 * closed.
 */
function dashboardPage(env: Record<string, string> = {}, clock?: Clock) {
  const ui = {} as { fb: Minifb; base: string; context: BrowserContext; page: Page };
  let server: ReturnType<typeof Bun.serve> | undefined;
  beforeAll(async () => {
    ui.fb = await startMinifb({ backend: 'pglite', env, clock });
    const { system, port } = ui.fb;
    server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => system!.handle(port, request) });
    ui.base = `http://127.0.0.1:${server.port}`;
    ui.context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'Asia/Seoul' });
    // The browser's time follows the system's: a page reads a token's expiry too.
    if (clock) await ui.context.clock.install({ time: clock.now() });
    ui.page = await ui.context.newPage();
  }, 60000);
  afterAll(async () => {
    await ui.context?.close();
    server?.stop(true);
    await ui.fb?.stop();
  }, 30000);
  return ui;
}

/** Fills the login form and submits it. */
async function submitLogin(page: Page, id: string, pw: string) {
  await page.locator('#login input[name=id]').fill(id);
  await page.locator('#login input[name=pw]').fill(pw);
  await page.locator('#login button[type=submit]').click();
}

/** The claims of a JWT, unverified: when the dashboard's token expires. */
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { exp: number };

describe('minifb admin dashboard in headless Chromium', () => {
  const ui = dashboardPage();
  let admin: string;
  /** Every URL the browser asked for, from the first page on. */
  const requested: string[] = [];
  /** Requests sent before the browser opened the page, all within the last hour. */
  let driven = 0;
  /** GET /admin/stats and /admin/stats/series just before the dashboard fetched its figures. */
  let before: { stats: Stats; series: Series };

  const stats = async (): Promise<Stats> => {
    const res = await ui.fb.call('GET', '/admin/stats', { token: admin });
    if (res.status !== 200) throw new Error(`GET /admin/stats answered ${res.status} ${res.text}`);
    return res.body;
  };
  const series = async (): Promise<Series> => {
    const res = await ui.fb.call('GET', '/admin/stats/series', { token: admin });
    if (res.status !== 200) throw new Error(`GET /admin/stats/series answered ${res.status} ${res.text}`);
    return res.body;
  };
  const figures = async (chart: (typeof CHARTS)[number]): Promise<Figures> => {
    const json = await ui.page.locator(`#${chart}`).getAttribute('data-figures');
    if (!json) throw new Error(`#${chart} has no data-figures`);
    return JSON.parse(json);
  };
  const shown = async (figure: keyof Stats) => Number((await ui.page.locator(`[data-figure=${figure}]`).textContent())!.replaceAll(',', ''));
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    // A known mix, so that every chart has something to show: more than ten endpoints, 2xx and 4xx.
    const send = async (method: string, path: string, options: Parameters<Minifb['call']>[2] = {}) => {
      driven++;
      return ui.fb.call(method, path, options);
    };
    const writer = await ui.fb.user('writer');
    const reader = await ui.fb.user('reader');
    driven += 4; // two sign-ups, two logins
    const posts: number[] = [];
    for (let i = 0; i < 3; i++) posts.push((await send('POST', '/post', { token: writer, body: { content: `post ${i}` } })).body.id);
    await send('GET', `/post/${posts[0]}`, { token: reader });
    await send('GET', '/post/999999', { token: reader }); // 404
    await send('GET', '/post', { token: reader });
    await send('GET', '/timeline', { token: writer });
    await send('POST', `/post/${posts[0]}/comment`, { token: reader, body: { content: 'a comment' } });
    await send('POST', `/post/${posts[1]}/reaction`, { token: reader, body: { type: 2 } });
    await send('GET', '/notification', { token: writer });
    await send('GET', '/me', { token: writer });
    await send('GET', '/me'); // 401
    await send('POST', '/signup', { body: { id: 'writer', pw: 'another password', name: 'Again' } }); // 409
    await send('PUT', '/post', { token: writer }); // 405
    for (let i = 0; i < 3; i++) await send('GET', `/no/such/route/${i}`); // 404
    admin = (await ui.fb.login(ADMIN.id, ADMIN.pw)).accessToken;
    driven++;
    ui.context.on('request', (request) => requested.push(request.url()));
  }, 60000);

  test('dashboard — /admin without a token is 401 with the login form', async () => {
    const response = await ui.page.goto(`${ui.base}/admin`);
    expect(response?.status()).toBe(401);
    expect(await ui.page.locator('body').getAttribute('data-state')).toBe('login');
    await ui.page.locator('#login input[name=id]').waitFor({ state: 'visible' });
    expect(await ui.page.locator('#login input[name=pw]').getAttribute('type')).toBe('password');
    expect(await ui.page.locator('#dashboard-view').isHidden()).toBe(true);
    expect(await ui.page.locator('#logout').isHidden()).toBe(true);
  }, 60000);

  test('dashboard — a wrong password keeps the login form and says why', async () => {
    await submitLogin(ui.page, ADMIN.id, 'not the admin password');
    await ui.page.locator('#login-message:not(:empty)').waitFor();
    expect(await ui.page.locator('body').getAttribute('data-state')).toBe('login');
    expect((await ui.context.cookies()).find((c) => c.name === 'minifb_admin')).toBeUndefined();
  }, 60000);

  test('dashboard — logging in as the administrator shows the current totals', async () => {
    // Taken before the dashboard exists: its first figures are fetched after these. Requests are
    // counted once their second is over, so wait until every request driven above is in them.
    const counted = await eventually(async () => {
      const now = await stats();
      return now.requestsLast24h >= driven ? now : undefined;
    }, 20000, `the ${driven} requests driven counted in GET /admin/stats`);
    before = { stats: counted!, series: await series() };
    await submitLogin(ui.page, ADMIN.id, ADMIN.pw);
    await ui.page.locator('body[data-state="dashboard"][data-updated]').waitFor({ timeout: 30000 });
    expect(await ui.page.locator('#login-view').isHidden()).toBe(true);
    expect(await ui.page.locator('#logout').isVisible()).toBe(true);
    const cookie = (await ui.context.cookies()).find((c) => c.name === 'minifb_admin');
    expect(cookie).toMatchObject({ path: '/admin', sameSite: 'Strict' });
    expect(await ui.page.evaluate(() => sessionStorage.getItem('minifb_admin_refresh'))).toBeTruthy();

    const now = await stats();
    expect(now).toMatchObject({ totalUsers: 3, totalPosts: 3, postsToday: 3 }); // admin, writer, reader
    for (const figure of ['totalUsers', 'totalPosts', 'postsToday'] as const) expect(await shown(figure)).toBe(now[figure]);
  }, 60000);

  test('dashboard — each chart carries the figures of /admin/stats and /admin/stats/series of that moment', async () => {
    const page24h = await shown('requestsLast24h');
    const [rps, status, endpoints] = [await figures('chart-rps'), await figures('chart-status'), await figures('chart-endpoints')];
    const after = { stats: await stats(), series: await series() };

    expect(page24h).toBeGreaterThanOrEqual(Math.max(before.stats.requestsLast24h, driven));
    expect(page24h).toBeLessThanOrEqual(after.stats.requestsLast24h);
    expect(await ui.page.locator('[data-figure=rps]').textContent()).toMatch(/^\d+\.\d\d$/);

    // Requests per second: one point a second over the last hour, every request of this test in it.
    expect(rps.labels).toHaveLength(3600);
    expect(rps.values).toHaveLength(3600);
    expect(rps.labels.every((l) => /^\d\d:\d\d:\d\d$/.test(l))).toBe(true);
    expect(rps.values.every((v) => Number.isInteger(v) && v >= 0)).toBe(true);
    expect(sum(rps.values)).toBeGreaterThanOrEqual(Math.max(sum(before.series.counts), driven));
    expect(sum(rps.values)).toBeLessThanOrEqual(sum(after.series.counts));

    // Status codes: every code counted, in order, each count between the two calls.
    expect(status.labels).toEqual([...status.labels].sort());
    expect(status.labels).toEqual(expect.arrayContaining(Object.keys(before.stats.byStatus)));
    expect(status.labels).toEqual(expect.arrayContaining(['200', '201', '401', '404', '405', '409']));
    status.labels.forEach((code, i) => {
      expect(status.values[i]!).toBeGreaterThanOrEqual(before.stats.byStatus[code] ?? 0);
      expect(status.values[i]!).toBeLessThanOrEqual(after.stats.byStatus[code]!);
    });

    // Endpoints: the ten busiest, busiest first; none left out was busier than the last shown.
    expect(Object.keys(after.stats.byEndpoint).length).toBeGreaterThan(10);
    expect(endpoints.labels).toHaveLength(10);
    expect(endpoints.values).toEqual([...endpoints.values].sort((a, b) => b - a));
    endpoints.labels.forEach((endpoint, i) => {
      expect(endpoints.values[i]!).toBeGreaterThanOrEqual(before.stats.byEndpoint[endpoint] ?? 0);
      expect(endpoints.values[i]!).toBeLessThanOrEqual(after.stats.byEndpoint[endpoint]!);
    });
    const least = endpoints.values.at(-1)!;
    for (const [endpoint, count] of Object.entries(before.stats.byEndpoint)) {
      if (!endpoints.labels.includes(endpoint)) expect(count).toBeLessThanOrEqual(least);
    }
    expect(endpoints.labels).toContain('POST /post');
  }, 60000);

  test('dashboard — every chart is drawn: its canvas has pixels in the colours of its data', async () => {
    const drawn = await ui.page.evaluate((ids) => {
      const rgb = (hex: string) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      const colours: Record<string, string[]> = {
        'chart-rps': ['#2563eb'], // the line and its fill
        'chart-status': ['#16a34a', '#f59e0b'], // 2xx and 4xx bars
        'chart-endpoints': ['#2563eb'], // the busiest endpoint's bar
      };
      return ids.map((id) => {
        const canvas = document.getElementById(id) as HTMLCanvasElement;
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let painted = 0;
        const inColour = colours[id]!.map(() => 0);
        const targets = colours[id]!.map(rgb);
        for (let p = 0; p < data.length; p += 4) {
          if (data[p + 3]! === 0) continue;
          painted++;
          targets.forEach((t, k) => {
            if (Math.abs(data[p]! - t[0]!) + Math.abs(data[p + 1]! - t[1]!) + Math.abs(data[p + 2]! - t[2]!) < 24 && data[p + 3]! > 200) inColour[k]!++;
          });
        }
        return { id, width: canvas.width, height: canvas.height, painted, inColour };
      });
    }, [...CHARTS]);
    for (const chart of drawn) {
      expect(chart.width).toBeGreaterThan(200);
      expect(chart.height).toBeGreaterThan(150);
      expect(chart.painted).toBeGreaterThan(1000); // axes, labels and data
      for (const n of chart.inColour) expect(n).toBeGreaterThan(50);
    }

    mkdirSync(join(SCREENSHOT, '..'), { recursive: true });
    await ui.page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(existsSync(SCREENSHOT)).toBe(true);
  }, 60000);

  test('dashboard — redraws every 5 s with the requests that arrived since', async () => {
    const count404 = async () => {
      const { labels, values } = await figures('chart-status');
      return values[labels.indexOf('404')] ?? 0;
    };
    const earlier = await count404();
    for (let i = 0; i < 5; i++) await fetch(`${ui.base}/still/no/such/route`);
    await eventually(async () => (await count404()) >= earlier + 5, 20000, 'the five new 404s on the status chart');
  }, 60000);

  test('dashboard — loads nothing from another origin (no CDN)', () => {
    expect(requested.length).toBeGreaterThan(0);
    expect(requested.filter((url) => new URL(url).origin !== ui.base)).toEqual([]);
    expect(requested).toEqual(expect.arrayContaining([`${ui.base}/admin`, `${ui.base}/admin/dashboard.js`, `${ui.base}/admin/dashboard.css`, `${ui.base}/admin/stats`, `${ui.base}/admin/stats/series`]));
  });

  test('dashboard — "Log out" returns to the login form and forgets the tokens', async () => {
    await ui.page.locator('#logout').click();
    await ui.page.locator('body[data-state="login"]').waitFor({ timeout: 30000 });
    expect(await ui.page.locator('#login').isVisible()).toBe(true);
    expect(await ui.page.locator('#dashboard-view').isHidden()).toBe(true);
    expect((await ui.context.cookies()).find((c) => c.name === 'minifb_admin')).toBeUndefined();
    expect(await ui.page.evaluate(() => sessionStorage.getItem('minifb_admin_refresh'))).toBeNull();
    expect((await ui.page.reload())?.status()).toBe(401);
  }, 60000);

  test('dashboard — a user who is not an administrator stays at the login form, told why, without reloading again and again', async () => {
    const loads: string[] = [];
    const count = (request: { url(): string; isNavigationRequest(): boolean }) => {
      if (request.isNavigationRequest() || request.url().endsWith('/refresh')) loads.push(request.url());
    };
    ui.page.on('request', count);
    try {
      await submitLogin(ui.page, 'reader', PASSWORD);
      await ui.page.locator('#login-message', { hasText: 'only an administrator may do this' }).waitFor({ timeout: 30000 });
      expect(await ui.page.locator('body').getAttribute('data-state')).toBe('login');
      // Nothing to wait for here: the point is that nothing more happens, so watch for a while.
      const settled = loads.length;
      await ui.page.waitForTimeout(2000);
      expect(loads.slice(settled)).toEqual([]);
      expect(loads.filter((url) => url.endsWith('/refresh'))).toEqual([]);
      expect((await ui.context.cookies()).find((c) => c.name === 'minifb_admin')).toBeUndefined();
    } finally {
      ui.page.off('request', count);
    }
  }, 60000);
});

describe('minifb admin dashboard in headless Chromium: access tokens that expire', () => {
  // The system's clock runs with real time, and the test moves it past an access token's life
  // (15 minutes): a token expires when the test says so, however long a busy machine takes to
  // load the page.
  let offset = 0;
  const clock = { now: () => Date.now() + offset };
  const expireAccessTokens = async () => {
    offset += 16 * 60_000;
    await ui.context.clock.fastForward(16 * 60_000);
  };
  const ui = dashboardPage({}, clock);
  const requested: string[] = [];
  const adminCookie = async () => (await ui.context.cookies()).find((c) => c.name === 'minifb_admin')?.value;

  beforeAll(() => {
    ui.page.on('request', (request) => requested.push(`${request.method()} ${new URL(request.url()).pathname}`));
  });

  test('dashboard — keeps updating after the access token expires: renewed with the refresh token', async () => {
    expect((await ui.page.goto(`${ui.base}/admin`))?.status()).toBe(401);
    await submitLogin(ui.page, ADMIN.id, ADMIN.pw);
    await ui.page.locator('body[data-state="dashboard"][data-updated]').waitFor({ timeout: 30000 });
    const first = (await adminCookie())!;
    await expireAccessTokens();
    const updated = await ui.page.locator('body').getAttribute('data-updated');
    // The update after the token expired was answered 401, renewed, and asked again.
    await ui.page.waitForFunction((after) => Number(document.body.dataset.updated) > after + 1000 * 3, Number(updated), { timeout: 30000 });
    await eventually(() => requested.includes('POST /refresh'), 10000, 'a renewal');
    expect(await ui.page.locator('body').getAttribute('data-state')).toBe('dashboard');
    expect(await adminCookie()).not.toBe(first);
    expect(requested.filter((r) => r === 'POST /auth')).toHaveLength(1);
  }, 60000);

  test('dashboard — opened again with an expired token: renewed without the login form, once', async () => {
    // Away from the dashboard (its timers stop) until the token in the cookie has expired.
    await ui.page.goto('about:blank');
    const token = (await adminCookie())!;
    await expireAccessTokens();
    expect(claimsOf(token).exp * 1000).toBeLessThan(clock.now());
    requested.length = 0;
    expect((await ui.page.goto(`${ui.base}/admin`))?.status()).toBe(401);
    await ui.page.locator('body[data-state="dashboard"][data-updated]').waitFor({ timeout: 30000 });
    expect(requested.filter((r) => r === 'POST /refresh')).toHaveLength(1);
    expect(requested.filter((r) => r === 'POST /auth')).toEqual([]);
    expect(requested.filter((r) => r === 'GET /admin')).toHaveLength(2);
    expect(await adminCookie()).not.toBe(token);
  }, 60000);
});
