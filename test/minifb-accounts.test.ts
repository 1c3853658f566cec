import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { signJwt } from '../platform/jwt.ts';
import { comparable, published } from './conformance/documents.ts';
import { minifbConformance } from './support/conformance.ts';
import { startMinifb, type Backend, type Minifb } from './support/minifb.ts';

/**
 * minifb accounts as a client sees them (shared/specs/minifb.md: "Models and limits", "Auth",
 * "Accounts", "Errors"), on embedded PGlite, on Postgres and split: the conformance kit's
 * sections, the published document, and what only the server's secret can show.
 */
const SECRET = 'test-secret-0123456789-0123456789-abcdef';

describe.each(['pglite', 'pg', 'split'] as Backend[])('minifb accounts on %s', (backend) => {
  let fb: Minifb;
  let n = 0;
  /** A fresh, valid user id for each test that needs one. */
  const fresh = (prefix = 'user') => `${prefix}${backend}${++n}`;

  beforeAll(async () => {
    fb = await startMinifb({ backend, env: { JWT_SECRET: SECRET } });
  }, 90000);

  afterAll(async () => {
    await fb?.stop();
  }, 30000);

  // Everything a client can check of accounts, tokens, who may do what, the shared errors and
  // the administrator's routes: the conformance kit (test/conformance/minifb/).
  minifbConformance('accounts,tokens,authorization,errors,admin', () => fb);

  test("the server's OpenAPI documents are the published one (test/conformance/minifb.openapi.json)", async () => {
    const documents = await fb.openapiDocuments();
    if (backend === 'split') {
      // Each process documents its own routes; together they are the published document.
      const paths = Object.assign({}, ...documents.map((d) => d.paths));
      expect(comparable({ ...documents[0]!, paths })).toEqual(comparable(published('minifb')));
    } else {
      // In the embedded mode port 8000 serves the whole document.
      expect(documents).toHaveLength(1);
      expect(comparable(documents[0]!)).toEqual(comparable(published('minifb')));
    }
  });

  // What only holds with the server's secret: tokens the kit cannot make.
  describe('tokens signed with the secret', () => {
    let id: string;
    beforeAll(async () => {
      id = fresh('tok');
      await fb.user(id);
    });
    const refused = async (token: string, hint: string) => {
      expect(await fb.call('GET', '/me', { token })).toMatchObject({ status: 401, body: { result: 'Unauthorized', hint } });
    };

    test('tokens — an expired token is 401', async () => {
      await refused(await signJwt({ sub: id, typ: 'access', ver: 0 }, SECRET, 60, Date.now() - 3_600_000), 'the token has expired');
      const expiredRefresh = await signJwt({ sub: id, typ: 'refresh', ver: 0 }, SECRET, 60, Date.now() - 3_600_000);
      expect(await fb.call('POST', '/refresh', { token: expiredRefresh })).toMatchObject({ status: 401, body: { hint: 'the token has expired' } });
    });

    test('tokens — a well-signed token of a user who does not exist is 401', async () =>
      refused(await signJwt({ sub: 'ghost-user', typ: 'access', ver: 0 }, SECRET, 600), 'the token belongs to no user'));

    test('tokens — a token of the right user, secret and type works (the two above fail for their reason alone)', async () => {
      expect((await fb.call('GET', '/me', { token: await signJwt({ sub: id, typ: 'access', ver: 0 }, SECRET, 600) })).body.id).toBe(id);
    });
  });
});
