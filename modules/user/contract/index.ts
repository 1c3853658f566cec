/**
 * The user domain's public contract. Users (with their access tokens) are shared through the
 * `users` snapshot bucket: every service authenticates `USER-TOKEN` from its local copy.
 */
import { Type, type Static } from '@sinclair/typebox';

/** A user as the homeshopping contract shows it (yes, with the token: the spec lists it). */
export const User = Type.Object({
  id: Type.Integer({ minimum: 1 }),
  name: Type.String(),
  access_token: Type.String(),
});
export type User = Static<typeof User>;

/** Snapshot bucket: key = user id, value = User. Owner: user. */
export const USERS_BUCKET = 'users';
/** Index name for replicas of USERS_BUCKET: token → user. */
export const byToken = (u: User) => u.access_token;

/** Request/reply subjects served by the user service (NATS micro service `user`). */
export const userSubjects = {
  /** `{token}` → User, or error USER.UNAUTHORIZED. */
  authenticate: 'user.authenticate',
  /** `{userId}` → `{itemIds}`: the recent-visit rule applied, newest first. */
  recentVisits: 'user.recent-visits',
} as const;

export const AuthenticateRequest = Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) });
export type AuthenticateRequest = Static<typeof AuthenticateRequest>;

export const RecentVisitsRequest = Type.Object({ userId: Type.Integer({ minimum: 1 }) });
export const RecentVisits = Type.Object({ itemIds: Type.Array(Type.Integer()) });
export type RecentVisits = Static<typeof RecentVisits>;

/** The header every homeshopping request carries. */
export const USER_TOKEN_HEADER = 'user-token';
