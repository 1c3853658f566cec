/**
 * The dashboard's HTML. One page in two states: `login` (what an unauthenticated browser gets,
 * with status 401) and `dashboard` (an administrator's). The script does the rest.
 */
import { ACCOUNT_LIMITS } from '../../account/contract/index.ts';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function dashboardPage(state: 'login' | 'dashboard', message = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>minifb — statistics</title>
<link rel="stylesheet" href="/admin/dashboard.css">
<script type="module" src="/admin/dashboard.js"></script>
</head>
<body data-state="${state}">
<header><h1>minifb statistics</h1><span id="updated"></span><button id="logout" hidden>Log out</button></header>
<main>
<section id="login-view" ${state === 'login' ? '' : 'hidden'}>
  <h2>Administrator login</h2>
  <p id="login-message" role="alert">${escapeHtml(message)}</p>
  <form id="login">
    <label>Id <input name="id" autocomplete="username" required minlength="${ACCOUNT_LIMITS.id.min}" maxlength="${ACCOUNT_LIMITS.id.max}"></label>
    <label>Password <input name="pw" type="password" autocomplete="current-password" required minlength="${ACCOUNT_LIMITS.password.min}" maxlength="${ACCOUNT_LIMITS.password.max}"></label>
    <button type="submit">Log in</button>
  </form>
</section>
<section id="dashboard-view" ${state === 'dashboard' ? '' : 'hidden'}>
  <dl id="totals">
    <div><dt>Requests per second (last 60 s)</dt><dd data-figure="rps">–</dd></div>
    <div><dt>Requests in the last 24 h</dt><dd data-figure="requestsLast24h">–</dd></div>
    <div><dt>Users</dt><dd data-figure="totalUsers">–</dd></div>
    <div><dt>Posts</dt><dd data-figure="totalPosts">–</dd></div>
    <div><dt>Posts today</dt><dd data-figure="postsToday">–</dd></div>
  </dl>
  <figure><figcaption>Requests per second, last hour</figcaption><div class="chart wide"><canvas id="chart-rps"></canvas></div></figure>
  <div class="pair">
    <figure><figcaption>Status codes, last 24 h</figcaption><div class="chart"><canvas id="chart-status"></canvas></div></figure>
    <figure><figcaption>Top endpoints, last 24 h</figcaption><div class="chart"><canvas id="chart-endpoints"></canvas></div></figure>
  </div>
</section>
</main>
</body>
</html>
`;
}
