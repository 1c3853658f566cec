/**
 * Who may do what (🔒, 🛡, owners), the errors every route shares, and the administrator's
 * routes (shared/specs/minifb.md: "Auth", "Errors", "Statistics", the temporary password).
 */
import { published } from '../documents.ts';
import { checksOf, expectAnswer, expectEqual, expectExactly, expectThat } from '../kit.ts';
import { forbidden, MISSING_TOKEN, NOT_ADMIN, PASSWORD, type MinifbContext } from './context.ts';

const authorization = checksOf<MinifbContext>('authorization');
const errors = checksOf<MinifbContext>('errors');
const admin = checksOf<MinifbContext>('admin');

/** Every operation the published document gives an Authorization header, bar the dashboard page (a browser's). */
/** The security schemes of the published document that are HTTP bearer tokens. */
const bearerSchemes = () =>
  new Set(
    Object.entries<{ type: string; scheme?: string }>(published('minifb').components?.securitySchemes ?? {})
      .filter(([, scheme]) => scheme.type === 'http' && scheme.scheme === 'bearer')
      .map(([name]) => name),
  );

function tokenOperations(): { method: string; template: string; body: boolean }[] {
  return Object.entries<Record<string, any>>(published('minifb').paths).flatMap(([template, ops]) =>
    Object.entries(ops)
      // The operations the document secures with a bearer token (an access or a refresh token).
      .filter(([, op]) => (op.security ?? []).some((s: Record<string, unknown>) => Object.keys(s).some((name) => bearerSchemes().has(name))))
      .filter(() => template !== '/admin')
      .map(([method, op]) => ({ method: method.toUpperCase(), template, body: op.requestBody !== undefined })),
  );
}

/** GET /admin/stats until `done` holds for it. */
const statsUntil = (ctx: MinifbContext, token: string, done: (stats: any) => boolean, what: string) =>
  ctx.wait(async () => {
    const res = expectAnswer(await ctx.call('GET', '/admin/stats', { token }), 200);
    return done(res.body) && res.body;
  }, what);

export const accessChecks = [
  authorization('every route that takes a token refuses a request without one: 401, saying how to send it', async (ctx) => {
    const ops = tokenOperations();
    expectThat(ops.length >= 25, `the published document lists only ${ops.length} operations with a token`);
    // Authentication comes first: a body that breaks every rule is not looked at.
    for (const { method, template, body } of ops) {
      expectExactly(await ctx.call(method, template.replace(/\{[^}]+\}/g, '1'), body ? { body: {} } : {}), 401, { result: 'Unauthorized', hint: MISSING_TOKEN });
    }
  }),

  authorization("someone else's post cannot be edited or deleted: 403 naming the method and the path as sent", async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const p = await ctx.post(alice);
    expectExactly(await ctx.call('PATCH', `/post/${p.id}`, { token: bob.token, body: { content: 'mine now' } }), 403, { result: 'Forbidden', hint: forbidden('PATCH', `/post/${p.id}`) });
    expectAnswer(await ctx.call('PATCH', `/post/00${p.id}`, { token: bob.token, body: { content: 'x' } }), 403, { hint: forbidden('PATCH', `/post/00${p.id}`) });
    expectExactly(await ctx.call('DELETE', `/post/${p.id}`, { token: bob.token }), 403, { result: 'Forbidden', hint: forbidden('DELETE', `/post/${p.id}`) });
    expectAnswer(await ctx.call('GET', `/post/${p.id}`, { token: alice.token }), 200, { content: p.content, modified: false });
  }),

  authorization("someone else's comment cannot be edited or deleted: 403 naming the method and the path", async (ctx) => {
    const [alice, bob] = [await ctx.cast('alice'), await ctx.cast('bob')];
    const p = await ctx.post(alice);
    const c = await ctx.comment(bob, p.id);
    // Not even by the owner of the post.
    expectAnswer(await ctx.call('PATCH', `/comment/${c.id}`, { token: alice.token, body: { content: 'x' } }), 403, { hint: forbidden('PATCH', `/comment/${c.id}`) });
    expectAnswer(await ctx.call('DELETE', `/comment/${c.id}`, { token: alice.token }), 403, { hint: forbidden('DELETE', `/comment/${c.id}`) });
    expectAnswer(await ctx.call('GET', `/post/${p.id}/comment`, { token: alice.token }), 200, { items: [{ id: c.id, content: c.content, modified: false }] });
  }),

  authorization('the administrator routes refuse a user who is not one: 403, and nothing changes', async (ctx) => {
    const person = await ctx.cast('keeper');
    for (const path of ['/admin/stats', '/admin/stats/series']) expectExactly(await ctx.call('GET', path, { token: person.token }), 403, { result: 'Forbidden', hint: NOT_ADMIN });
    expectExactly(await ctx.call('POST', `/user/${person.id}/temporary-password`, { token: person.token }), 403, { result: 'Forbidden', hint: NOT_ADMIN });
    expectAnswer(await ctx.call('POST', `/user/${person.id}/temporary-password`), 401);
    // The password is untouched by the refused requests.
    expectEqual((await ctx.login(person.id)).passwordChangeRequired, false, 'passwordChangeRequired');
  }),

  errors('an unknown route is 404 {result, hint}', async (ctx) => {
    expectExactly(await ctx.call('GET', '/no/such/thing'), 404, { result: 'Not Found', hint: 'no route for GET /no/such/thing' });
  }),

  errors('a wrong method on a known path is 405 {result, hint} with Allow', async (ctx) => {
    const res = expectExactly(await ctx.call('DELETE', '/signup'), 405, { result: 'Method Not Allowed', hint: 'DELETE is not allowed on /signup (allowed: POST)' });
    expectEqual(res.headers.get('allow'), 'POST', 'the Allow header', res);
    const me = await ctx.call('POST', '/me');
    expectEqual(me.headers.get('allow'), 'GET', 'the Allow header', me);
  }),

  admin('temporary password — an administrator gets one; the user logs in with it and must change it', async (ctx) => {
    const person = await ctx.person();
    const res = expectAnswer(await ctx.call('POST', `/user/${person.id}/temporary-password`, { token: await ctx.adminToken() }), 201);
    expectEqual(Object.keys(res.body), ['temporaryPassword'], 'the keys', res);
    const temporary: string = res.body.temporaryPassword;
    expectThat(temporary.length >= 10, 'the temporary password is shorter than 10 characters', res);
    // It replaces the old password and revokes the user's tokens.
    expectAnswer(await ctx.call('POST', '/auth', { body: { id: person.id, pw: PASSWORD } }), 401);
    expectAnswer(await ctx.call('GET', '/me', { token: person.token }), 401);
    const login = await ctx.login(person.id, temporary);
    expectEqual(login.passwordChangeRequired, true, 'passwordChangeRequired after a temporary password');
    expectAnswer(await ctx.call('PUT', '/me/password', { token: login.accessToken, body: { currentPw: temporary, newPw: 'my own password' } }), 200);
    expectEqual((await ctx.login(person.id, 'my own password')).passwordChangeRequired, false, 'passwordChangeRequired after changing it');
    expectAnswer(await ctx.call('POST', '/auth', { body: { id: person.id, pw: temporary } }), 401);
  }),

  admin('temporary password — 404 for an unknown user; 400 for an id holding a NUL', async (ctx) => {
    const token = await ctx.adminToken();
    const nobody = ctx.id('nobody');
    expectAnswer(await ctx.call('POST', `/user/${nobody}/temporary-password`, { token }), 404, { hint: `no user ${nobody}` });
    expectAnswer(await ctx.call('POST', '/user/ab%00cd/temporary-password', { token }), 400, { hint: 'id: must not contain the NUL character (U+0000)' });
  }),

  admin('statistics — totals follow a sign-up and a post; endpoints are counted by route pattern, not raw path', async (ctx) => {
    const token = await ctx.adminToken();
    const before = expectAnswer(await ctx.call('GET', '/admin/stats', { token }), 200).body;
    const [newcomer, writer] = [await ctx.account(), await ctx.cast('writer')];
    await ctx.post(writer);
    for (let i = 0; i < 3; i++) await ctx.call('GET', `/user/${newcomer.id}`, { token: writer.token });
    const after = await statsUntil(
      ctx,
      token,
      // (request counts arrive a second at a time: every figure is waited for, none assumed together)
      (s) =>
        s.totalUsers >= before.totalUsers + 1 &&
        s.totalPosts >= before.totalPosts + 1 &&
        s.postsToday >= 1 &&
        s.requestsLast24h > before.requestsLast24h &&
        (s.byEndpoint['GET /user/{id}'] ?? 0) >= (before.byEndpoint['GET /user/{id}'] ?? 0) + 3,
      'the statistics counting the new user, the post, the requests and three GET /user/{id}',
    );
    expectThat(after.postsToday >= 1 && after.requestsLast24h > before.requestsLast24h, 'postsToday or requestsLast24h does not count them', ctx.recorder.last);
    expectThat(!Object.keys(after.byEndpoint).some((k) => k.includes(newcomer.id)), 'an endpoint is counted under a raw path', ctx.recorder.last);
  }),

  admin('dashboard — GET /admin is a page for an administrator; 401 without a token, 403 for a user', async (ctx) => {
    const html = { accept: 'text/html' };
    const page = expectAnswer(await ctx.call('GET', '/admin', { token: await ctx.adminToken(), headers: html }), 200);
    expectThat((page.headers.get('content-type') ?? '').includes('text/html') && /<html/i.test(page.text), 'the dashboard is not an HTML page', page);
    expectAnswer(await ctx.call('GET', '/admin', { headers: html }), 401);
    expectAnswer(await ctx.call('GET', '/admin', { token: (await ctx.cast('bob')).token, headers: html }), 403);
  }),
];
