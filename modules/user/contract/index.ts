/**
 * The user domain's public contract. Users (with their access tokens) are shared through the
 * `users` snapshot bucket, keyed by token: every service authenticates `USER-TOKEN` with one
 * read of it (held in a bounded copy), never by asking the user service per request.
 */
import { Type, type Static } from '@sinclair/typebox';

/** A user as the homeshopping contract shows it (yes, with the token: the spec lists it). */
export const User = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  name: Type.String(),
  access_token: Type.String(),
});
export type User = Static<typeof User>;

/** Snapshot bucket: key = tokenKey(access_token), value = User. Owner: user. */
export const USERS_BUCKET = 'users';

/**
 * The bucket key of a token. NATS keys hold letters, digits and `-_=./`; a token made of letters,
 * digits and `-` (the kit's are UUIDs) is its own key; any other is base64url behind `=`; one
 * too long for a subject is its SHA-256 behind `==` (base64url has no `=`, so the three never
 * meet). Keys starting with `_` are the platform's.
 */
export function tokenKey(token: string): string {
  if (/^[A-Za-z0-9][A-Za-z0-9-]{0,199}$/.test(token)) return token;
  const utf8 = Buffer.from(token, 'utf8');
  if (utf8.length <= 300) return `=${utf8.toString('base64url')}`;
  return `==${new Bun.CryptoHasher('sha256').update(utf8).digest('base64url')}`;
}

export const AuthenticateRequest = Type.Object({ token: Type.String({ minLength: 1, maxLength: 8192 }) });
export const RecentVisitsRequest = Type.Object({ userId: Type.Integer({ minimum: 1 }) });
export const RecentVisits = Type.Object({ itemIds: Type.Array(Type.Integer()) });
export type RecentVisits = Static<typeof RecentVisits>;

/** Request/reply subjects served by the user service (NATS micro service `user`). */
export const userRequests = {
  authenticate: {
    subject: 'user.authenticate',
    request: AuthenticateRequest,
    reply: User,
    description: 'The user with this access token, or USER.UNAUTHORIZED',
  },
  recentVisits: {
    subject: 'user.recent-visits',
    request: RecentVisitsRequest,
    reply: RecentVisits,
    description: 'The recent-visit rule applied to the user: item ids, newest first',
  },
} as const;

/** The users bucket as copies read it: by token; the user service answers while it fills. */
export const usersBucket = {
  bucket: USERS_BUCKET,
  value: User,
  key: tokenKey,
  owner: { request: userRequests.authenticate, payload: (token: string) => ({ token }) },
};

/** The header every homeshopping request carries. */
export const USER_TOKEN_HEADER = 'user-token';
