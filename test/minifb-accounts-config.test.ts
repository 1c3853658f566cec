import { manualClock } from '../platform/clock.ts';
import { describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountSettings, DEVELOPMENT_ADMIN } from '../modules/account/settings.ts';
import { allModules } from '../modules/index.ts';
import { ConfigError, parseConfig } from '../platform/config.ts';
import { startSystem } from '../platform/runtime.ts';
import { MINIFB_MODULES, PASSWORD, startMinifb } from './support/minifb.ts';

/** The account module's configuration: the administrator, token and temporary-password lifetimes. */
const configOf = (env: Record<string, string>) => parseConfig(env, allModules);
const refusal = (env: Record<string, string>) => {
  try {
    accountSettings(configOf(env));
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return 'accepted';
};

describe('account settings', () => {
  test('settings — the embedded mode falls back to the documented development administrator', () => {
    const s = accountSettings(configOf({}));
    expect(s).toMatchObject({ adminId: DEVELOPMENT_ADMIN.id, adminPassword: DEVELOPMENT_ADMIN.password, developmentAdmin: true });
    expect(s).toMatchObject({ accessTtlSeconds: 900, refreshTtlSeconds: 14 * 86400, temporaryPasswordTtlSeconds: 24 * 3600 });
  });

  test('settings — split mode (NATS_URL set) requires the administrator from the environment', () => {
    expect(refusal({ NATS_URL: 'nats://n:4222' })).toStartWith('MINIFB_ADMIN_ID: is required when NATS_URL is set');
    expect(refusal({ NATS_URL: 'nats://n:4222', MINIFB_ADMIN_ID: 'boss' })).toStartWith('MINIFB_ADMIN_PASSWORD: is required');
    expect(refusal({ NATS_URL: 'nats://n:4222', MINIFB_ADMIN_ID: 'boss', MINIFB_ADMIN_PASSWORD: 'a long password' })).toBe('accepted');
  });

  test('settings — the administrator must fit the user model; lifetimes are whole seconds', () => {
    expect(refusal({ MINIFB_ADMIN_ID: 'ab', MINIFB_ADMIN_PASSWORD: 'a long password' })).toStartWith('MINIFB_ADMIN_ID: must be 4 to 50');
    expect(refusal({ MINIFB_ADMIN_ID: 'boss', MINIFB_ADMIN_PASSWORD: 'short' })).toStartWith('MINIFB_ADMIN_PASSWORD: must be 10 to 100');
    expect(refusal({ JWT_ACCESS_TTL_SECONDS: 'soon' })).toStartWith('JWT_ACCESS_TTL_SECONDS: must be a whole number of seconds');
    expect(refusal({ TEMPORARY_PASSWORD_TTL_SECONDS: '0' })).toStartWith('TEMPORARY_PASSWORD_TTL_SECONDS');
    expect(accountSettings(configOf({ JWT_REFRESH_TTL_SECONDS: '60' })).refreshTtlSeconds).toBe(60);
  });
});

describe('the administrator from configuration', () => {
  test('admin — created on first start from MINIFB_ADMIN_ID/PASSWORD; a later start never changes the password', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'admin-'));
    const start = (password: string) =>
      startSystem(
        parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error', MODULES: MINIFB_MODULES.join(','), MINIFB_ADMIN_ID: 'the-boss', MINIFB_ADMIN_PASSWORD: password }, allModules),
        allModules,
        { listen: false },
      );
    const logIn = async (system: Awaited<ReturnType<typeof start>>, id: string, pw: string) => {
      const res = await system.handle(8000, new Request('http://localhost/auth', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, pw }) }));
      return { status: res.status, body: (await res.json()) as { accessToken?: string } };
    };
    try {
      const first = await start('first password!');
      const login = await logIn(first, 'the-boss', 'first password!');
      expect(login.status).toBe(200);
      const stats = await first.handle(8000, new Request('http://localhost/admin/stats', { headers: { authorization: `Bearer ${login.body.accessToken}` } }));
      expect(stats.status).toBe(200);
      expect((await logIn(first, DEVELOPMENT_ADMIN.id, DEVELOPMENT_ADMIN.password)).status).toBe(401);
      await first.stop();

      const second = await start('second password');
      expect((await logIn(second, 'the-boss', 'first password!')).status).toBe(200);
      expect((await logIn(second, 'the-boss', 'second password')).status).toBe(401);
      await second.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60000);
});

describe('lifetimes', () => {
  test('a temporary password stops working when it expires; an access token when it expires', async () => {
    // On a whole second: tokens count their lifetime in whole seconds from when they are issued.
    const clock = manualClock(Math.floor(Date.now() / 1000) * 1000);
    const fb = await startMinifb({ backend: 'pglite', env: { TEMPORARY_PASSWORD_TTL_SECONDS: '1', JWT_ACCESS_TTL_SECONDS: '1' }, clock });
    try {
      await fb.user('forgetful');
      const admin = (await fb.login('admin', 'minifb-admin-dev-password')).accessToken;
      const { temporaryPassword } = (await fb.call('POST', '/user/forgetful/temporary-password', { token: admin })).body;
      const token = (await fb.login('forgetful', temporaryPassword)).accessToken;
      expect((await fb.call('GET', '/me', { token })).status).toBe(200);
      // Just before the second is over both still work; at its end neither does.
      clock.advance(999);
      expect((await fb.call('GET', '/me', { token })).status).toBe(200);
      clock.advance(1);
      expect(await fb.call('POST', '/auth', { body: { id: 'forgetful', pw: temporaryPassword } })).toMatchObject({
        status: 401,
        body: { hint: 'the temporary password has expired: ask an administrator for a new one' },
      });
      expect(await fb.call('GET', '/me', { token })).toMatchObject({ status: 401, body: { hint: 'the token has expired' } });
      expect((await fb.call('POST', '/auth', { body: { id: 'forgetful', pw: PASSWORD } })).status).toBe(401);
    } finally {
      await fb.stop();
    }
  }, 60000);
});

describe('hashing off the event loop', () => {
  test('while 50 logins are being hashed, GET /me keeps answering: the first /me is back before half of the logins are', async () => {
    const fb = await startMinifb({ backend: 'pglite' });
    const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: (request) => fb.system!.handle(fb.port, request) });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const token = await fb.user('busy-user');
      let loginsDone = 0;
      const logins = Array.from({ length: 50 }, () =>
        fetch(`${base}/auth`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'busy-user', pw: PASSWORD }) }).then((r) => {
          loginsDone++;
          return r.status;
        }),
      );
      const meDoneWith: number[] = [];
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } });
        expect(res.status).toBe(200);
        meDoneWith.push(loginsDone);
      }
      const statuses = await Promise.all(logins);
      expect(statuses).toEqual(Array(50).fill(200));
      // Hashing on the event loop would hold the first /me behind every login that arrived before
      // it; off the loop (a thread pool of four on any machine) it comes back while most still hash.
      expect(meDoneWith[0]).toBeLessThan(25);
    } finally {
      server.stop(true);
      await fb.stop();
    }
  }, 60000);
});
