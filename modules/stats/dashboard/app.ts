/**
 * The statistics dashboard, in the browser: logs an administrator in (POST /auth), then draws
 * GET /admin/stats and GET /admin/stats/series every 5 s. The access token lives in a cookie
 * scoped to /admin (that is how the page itself is authorised) and goes to the API as a Bearer
 * token; the refresh token stays in sessionStorage and renews it.
 */
import { BarController, BarElement, CategoryScale, Chart, Filler, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import type { SeriesAnswer, StatsAnswer } from '../http.ts';
import { ADMIN_COOKIE, adminCookie } from './cookie.ts';
import './dashboard.css';

Chart.register(LineController, LineElement, PointElement, BarController, BarElement, CategoryScale, LinearScale, Filler, Tooltip);

const REFRESH = 'minifb_admin_refresh';
/** Set while the page reloads after a silent renewal: a second refusal then means renewing does not help. */
const RENEWED = 'minifb_admin_renewed';
const $ = <T extends HTMLElement>(selector: string) => document.querySelector(selector) as T;

const accessToken = () => adminCookie(document.cookie);
const keepAccessToken = (token: string | null) => {
  document.cookie = token ? `${ADMIN_COOKIE}=${token}; Path=/admin; SameSite=Strict; Max-Age=${14 * 86400}` : `${ADMIN_COOKIE}=; Path=/admin; SameSite=Strict; Max-Age=0`;
};

async function refreshed(): Promise<boolean> {
  const refresh = sessionStorage.getItem(REFRESH);
  if (!refresh) return false;
  const res = await fetch('/refresh', { method: 'POST', headers: { authorization: `Bearer ${refresh}` } });
  if (!res.ok) return false;
  keepAccessToken(((await res.json()) as { accessToken: string }).accessToken);
  return true;
}

async function api<T>(path: string): Promise<T> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const res = await fetch(path, { headers: { authorization: `Bearer ${accessToken() ?? ''}` } });
    if (res.ok) return (await res.json()) as T;
    if (res.status !== 401 || attempt > 0 || !(await refreshed())) {
      if (res.status === 401 || res.status === 403) logOut();
      throw new Error(`${path} answered ${res.status}`);
    }
  }
  throw new Error('unreachable');
}

/** When a JWT expires (its `exp` claim, ms since the epoch); 0 when it cannot be read. */
function expiryOf(token: string): number {
  try {
    const payload = JSON.parse(atob(token.split('.')[1]!.replaceAll('-', '+').replaceAll('_', '/'))) as { exp?: unknown };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : 0;
  } catch {
    return 0;
  }
}

function forgetTokens() {
  keepAccessToken(null);
  sessionStorage.removeItem(REFRESH);
  sessionStorage.removeItem(RENEWED);
}

function logOut() {
  forgetTokens();
  location.reload();
}

function setUpLogin() {
  // The page was refused although the browser holds a token. Only an expired one is worth
  // renewing with the refresh token, and only once: a user who is not an administrator (403), or
  // a token this server does not accept, would be refused again after every renewal, and the page
  // would reload forever. Then the tokens are dropped and the form shows the server's reason.
  const token = accessToken();
  if (token) {
    if (expiryOf(token) <= Date.now() && sessionStorage.getItem(REFRESH) && !sessionStorage.getItem(RENEWED)) {
      void refreshed()
        .catch(() => false) // the server is unreachable: log in again when it is back
        .then((ok) => {
          if (!ok) return forgetTokens();
          sessionStorage.setItem(RENEWED, '1');
          location.reload();
        });
    } else {
      forgetTokens();
    }
  }
  $('#login').addEventListener('submit', async (event) => {
    event.preventDefault();
    const form = new FormData(event.target as HTMLFormElement);
    const res = await fetch('/auth', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: form.get('id'), pw: form.get('pw') }),
    });
    const body = (await res.json()) as { accessToken?: string; refreshToken?: string; hint?: string };
    if (!res.ok || !body.accessToken) {
      $('#login-message').textContent = body.hint ?? `login failed (${res.status})`;
      return;
    }
    keepAccessToken(body.accessToken);
    sessionStorage.setItem(REFRESH, body.refreshToken!);
    location.reload();
  });
}

const palette = ['#2563eb', '#16a34a', '#f59e0b', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#ea580c', '#475569'];
const statusColour = (code: string) => (code.startsWith('2') ? '#16a34a' : code.startsWith('3') ? '#0891b2' : code.startsWith('4') ? '#f59e0b' : '#dc2626');

function chart(id: string, type: 'line' | 'bar', horizontal = false): Chart {
  // Every figure is a count of requests: whole ticks on the value axis (no "0.5 requests").
  const category = { ticks: { maxTicksLimit: 12, autoSkip: true } };
  const value = { beginAtZero: true, ticks: { precision: 0 } };
  return new Chart($<HTMLCanvasElement>(`#${id}`), {
    type,
    data: { labels: [], datasets: [{ data: [], borderWidth: 1 }] },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      indexAxis: horizontal ? 'y' : 'x',
      plugins: { tooltip: { enabled: true } },
      scales: horizontal ? { x: value, y: category } : { x: category, y: value },
      elements: { point: { radius: 0 }, line: { tension: 0 } },
    },
  });
}

/** Puts figures into a chart, and onto its canvas as data-figures (what the browser test reads). */
function draw(c: Chart, labels: string[], values: number[], colours: string | string[], fill = false) {
  c.data.labels = labels;
  const dataset = c.data.datasets[0]!;
  dataset.data = values;
  dataset.backgroundColor = colours;
  dataset.borderColor = colours;
  (dataset as { fill?: boolean }).fill = fill;
  c.update();
  c.canvas.dataset.figures = JSON.stringify({ labels, values });
}

function setUpDashboard() {
  sessionStorage.removeItem(RENEWED);
  $('#logout').hidden = false;
  $('#logout').addEventListener('click', logOut);
  const rps = chart('chart-rps', 'line');
  const status = chart('chart-status', 'bar');
  const endpoints = chart('chart-endpoints', 'bar', true);
  const time = (s: number) => new Date(s * 1000).toLocaleTimeString([], { hour12: false });

  async function update() {
    const [stats, series] = await Promise.all([api<StatsAnswer>('/admin/stats'), api<SeriesAnswer>('/admin/stats/series')]);
    document.querySelectorAll<HTMLElement>('[data-figure]').forEach((el) => {
      const value = stats[el.dataset.figure as keyof StatsAnswer] as number;
      el.textContent = el.dataset.figure === 'rps' ? value.toFixed(2) : value.toLocaleString('en');
    });
    draw(rps, series.counts.map((_, i) => time(series.from + i * series.step)), series.counts, '#2563eb', true);
    const codes = Object.keys(stats.byStatus).sort();
    draw(status, codes, codes.map((c) => stats.byStatus[c]!), codes.map(statusColour));
    const top = Object.entries(stats.byEndpoint).sort((a, b) => b[1] - a[1]).slice(0, 10);
    draw(endpoints, top.map(([e]) => e), top.map(([, n]) => n), top.map((_, i) => palette[i % palette.length]!));
    $('#updated').textContent = `updated ${new Date().toLocaleTimeString([], { hour12: false })}`;
    document.body.dataset.updated = String(Date.now());
  }

  const tick = () => update().catch((error) => ($('#updated').textContent = `update failed: ${(error as Error).message}`));
  void tick();
  setInterval(tick, 5000);
}

if (document.body.dataset.state === 'dashboard') setUpDashboard();
else setUpLogin();
