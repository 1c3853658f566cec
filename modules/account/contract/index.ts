/**
 * The account domain's public contract (minifb). Other domains learn what they need of users —
 * id, name, nickname, whether they are an administrator, and which tokens are still valid —
 * from the `accounts` snapshot bucket, never from the account database.
 */
import { Type, type Static } from '@sinclair/typebox';

export { ACCOUNT_ID_PATTERN, ACCOUNT_LIMITS } from './limits.ts';

/** A user as other domains see them: a post's owner, a comment's author, a notification's actor. */
export const UserRef = Type.Object({
  id: Type.String(),
  name: Type.String(),
  nickname: Type.Union([Type.String(), Type.Null()]),
});
export type UserRef = Static<typeof UserRef>;

/** Snapshot value: key = accountKey(id). Owner: account. */
export const Account = Type.Object({
  id: Type.String({ minLength: 1 }),
  name: Type.String(),
  nickname: Type.Union([Type.String(), Type.Null()]),
  admin: Type.Boolean(),
  /**
   * Tokens carry the version they were issued under (`ver`); a password change or a temporary
   * password bumps it, and every token issued before is refused wherever it is checked.
   */
  tokenVersion: Type.Integer({ minimum: 0 }),
});
export type Account = Static<typeof Account>;

/** Snapshot bucket of accounts. Owner: account. */
export const ACCOUNTS_BUCKET = 'accounts';

/**
 * The bucket key of a user id. Ids may hold `.`, which NATS KV keys may not start or end with
 * nor repeat; those ids are stored base64url-encoded behind `=`, a character no id holds.
 */
export function accountKey(id: string): string {
  return /^[A-Za-z0-9_-]([A-Za-z0-9_-]|\.(?!\.))*(?<!\.)$/.test(id) ? id : `=${Buffer.from(id, 'utf8').toString('base64url')}`;
}

/** The user id a bucket key stands for (accountKey's inverse). */
export function idOfAccountKey(key: string): string {
  return key.startsWith('=') ? Buffer.from(key.slice(1), 'base64url').toString('utf8') : key;
}

/** The claims of a minifb access or refresh token (JWT, HS256). */
export const TokenClaims = Type.Object({
  sub: Type.String(),
  typ: Type.Union([Type.Literal('access'), Type.Literal('refresh')]),
  ver: Type.Integer({ minimum: 0 }),
  iat: Type.Integer(),
  exp: Type.Integer(),
});
export type TokenClaims = Static<typeof TokenClaims>;

/**
 * Whether a token's claims still stand for `account`: the user exists and the token was issued
 * under their current token version. Returns what is wrong, or null.
 */
export function tokenProblem(claims: Pick<TokenClaims, 'ver'>, account: Account | undefined): string | null {
  if (!account) return 'the token belongs to no user';
  if (claims.ver !== account.tokenVersion) return 'the token was revoked: the password has changed since it was issued';
  return null;
}

/**
 * `{id, name, nickname}` of a user for payloads, from what a copy holds. Every author has an
 * account (none is ever deleted); a copy that has not seen one yet shows the id as the name
 * rather than failing a whole page.
 */
export function userRefOf(id: string, account: Account | undefined): UserRef {
  return account ? { id, name: account.name, nickname: account.nickname } : { id, name: id, nickname: null };
}

/** The caller of a route, as every minifb domain knows them. */
export interface Caller {
  id: string;
  admin: boolean;
}

export type CallerCheck = { caller: Caller } | { refused: 'UNAUTHORIZED' | 'FORBIDDEN'; reason: string };

/**
 * Who is calling with a verified token's claims: `account` looks the user up (in a copy of the
 * accounts bucket, or at the owner). `admin` routes also need the administrator flag.
 */
export async function checkCaller(
  account: (id: string) => Account | undefined | Promise<Account | undefined>,
  claims: Record<string, unknown>,
  level: 'access' | 'admin',
): Promise<CallerCheck> {
  const found = typeof claims.sub === 'string' ? await account(claims.sub) : undefined;
  const problem = tokenProblem({ ver: Number(claims.ver) }, found);
  if (problem || !found) return { refused: 'UNAUTHORIZED', reason: problem ?? 'the token belongs to no user' };
  if (level === 'admin' && !found.admin) return { refused: 'FORBIDDEN', reason: 'only an administrator may do this' };
  return { caller: { id: found.id, admin: found.admin } };
}

export const AccountGetRequest = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export const AccountTotals = Type.Object({ totalUsers: Type.Integer({ minimum: 0 }) });
export type AccountTotals = Static<typeof AccountTotals>;

/** Request/reply subjects served by the account service (NATS micro service `account`). */
export const accountRequests = {
  get: { subject: 'account.get', request: AccountGetRequest, reply: Account, description: 'One account as other domains see it, or ACCOUNT.NOT_FOUND' },
  totals: { subject: 'account.totals', request: Type.Object({}), reply: AccountTotals, description: 'How many users there are' },
} as const;

/** The accounts bucket as copies read it: by user id; the account service answers while it fills. */
export const accountsBucket = {
  bucket: ACCOUNTS_BUCKET,
  value: Account,
  key: accountKey,
  owner: { request: accountRequests.get, payload: (id: string) => ({ id }) },
};
