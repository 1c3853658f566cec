import type { Kysely, Transaction } from 'kysely';
import { verifyToken, type CallerCheck } from '../../platform/http/bearer-auth.ts';
import { DomainError } from '../../platform/errors.ts';
import { signJwt } from '../../platform/jwt.ts';
import type { Clock } from '../../platform/clock.ts';
import type { Outbox } from '../../platform/data/outbox.ts';
import { unitOfWork } from '../../platform/data/unit-of-work.ts';
import { checkText } from '../../platform/text.ts';
import { ACCOUNT_ID_PATTERN, ACCOUNT_LIMITS, ACCOUNTS_BUCKET, accountKey, checkCaller, tokenProblem, type Account, type Caller } from './contract/index.ts';
import { genSalt, hashPassword, verifyPassword } from './password.ts';
import { countAccounts, findAccount, insertAccount, makeAdmin, setPassword, setProfile, snapshotOf, type AccountRow } from './queries.ts';
import type { AccountDatabase } from './schema.ts';
import type { AccountSettings } from './settings.ts';
import type { UserView } from './views.ts';


/** The caller, with the row their token was checked against (GET /me needs no second read). */
export type AccountCaller = Caller & { row: AccountRow };

export const viewOf = (row: AccountRow): UserView => ({
  id: row.id,
  name: row.name,
  nickname: row.nickname,
  bio: row.bio,
  createdAt: row.created_at.toISOString(),
});

/** The model's limits (contract: "Models and limits"), each failure naming the field. */
export const limits = {
  id(id: string) {
    checkText('ACCOUNT.INVALID', 'id', id, ACCOUNT_LIMITS.id);
    if (!ACCOUNT_ID_PATTERN.test(id)) throw new DomainError('ACCOUNT.INVALID', 'id: may hold only letters, digits, _, - and .');
    return id;
  },
  password: (field: string, pw: string) => checkText('ACCOUNT.INVALID', field, pw, ACCOUNT_LIMITS.password),
  name: (name: string) => checkText('ACCOUNT.INVALID', 'name', name, ACCOUNT_LIMITS.name),
  nickname: (nickname: string | null) => (nickname === null ? null : checkText('ACCOUNT.INVALID', 'nickname', nickname, ACCOUNT_LIMITS.nickname)),
  bio: (bio: string | null) => (bio === null ? null : checkText('ACCOUNT.INVALID', 'bio', bio, ACCOUNT_LIMITS.bio)),
};

/** A hash that matches no password: logging in as an unknown id costs what a known one does. */
const NOBODY = `pbkdf2:sha256:600000$${genSalt()}$${'0'.repeat(64)}`;

export function accountUseCases(deps: { db: Kysely<AccountDatabase>; outbox: Outbox; secret: string; settings: AccountSettings; clock: Clock }) {
  const { db, outbox, secret, settings, clock } = deps;

  const tokens = async (row: AccountRow) => {
    const claims = { sub: row.id, ver: row.token_version };
    return {
      accessToken: await signJwt({ ...claims, typ: 'access' }, secret, settings.accessTtlSeconds, clock.now()),
      refreshToken: await signJwt({ ...claims, typ: 'refresh' }, secret, settings.refreshTtlSeconds, clock.now()),
    };
  };

  const write = unitOfWork(db, outbox);
  /** Writes an account change as one unit of work: every copy of the account drops the old one. */
  function change<T>(id: string, apply: (tx: Transaction<AccountDatabase>) => Promise<T>): Promise<T> {
    return write(
      async (tx, changes) => {
        const value = await apply(tx);
        await changes.snapshot(ACCOUNTS_BUCKET, accountKey(id));
        return value;
      },
      { one: `account:${id}` },
    );
  }

  async function requireAccount(id: string): Promise<AccountRow> {
    const row = await findAccount(db, id);
    if (!row) throw new DomainError('ACCOUNT.NOT_FOUND', `no user ${id}`);
    return row;
  }

  return {
    /** The snapshot value of an account, for the outbox relay and the account.get service. */
    async snapshot(id: string): Promise<Account | null> {
      const row = await findAccount(db, id);
      return row ? snapshotOf(row) : null;
    },

    /**
     * Creates the configured administrator if missing (never touches an existing password). At
     * start, before anyone can have read the account: its snapshot row goes out with the relay,
     * and nothing waits for copies.
     */
    async ensureAdmin(): Promise<'created' | 'exists'> {
      const passwordHash = await hashPassword(settings.adminPassword);
      const created = await db.transaction().execute(async (tx) => {
        const inserted = await insertAccount(tx, { id: settings.adminId, password_hash: passwordHash, name: 'Administrator', nickname: null, bio: null, is_admin: true });
        if (!inserted) await makeAdmin(tx, settings.adminId);
        await outbox.snapshot(tx, ACCOUNTS_BUCKET, accountKey(settings.adminId));
        return inserted;
      });
      return created ? 'created' : 'exists';
    },

    async checkId(id: string): Promise<void> {
      limits.id(id);
      if (await findAccount(db, id)) throw new DomainError('ACCOUNT.CONFLICT', `id: '${id}' is taken`);
    },

    async signUp(input: { id: string; pw: string; name: string; nickname?: string | null; bio?: string | null }): Promise<UserView> {
      const row = {
        id: limits.id(input.id),
        password_hash: '',
        name: limits.name(input.name),
        nickname: limits.nickname(input.nickname ?? null),
        bio: limits.bio(input.bio ?? null),
      };
      limits.password('pw', input.pw);
      if (await findAccount(db, row.id)) throw new DomainError('ACCOUNT.CONFLICT', `id: '${row.id}' is taken`);
      row.password_hash = await hashPassword(input.pw);
      const inserted = await change(row.id, (tx) => insertAccount(tx, row));
      // Two sign-ups for one id at once: the second finds it taken here.
      if (!inserted) throw new DomainError('ACCOUNT.CONFLICT', `id: '${row.id}' is taken`);
      return viewOf(await requireAccount(row.id));
    },

    async logIn(input: { id: string; pw: string }) {
      const row = await findAccount(db, input.id);
      const matches = await verifyPassword(row?.password_hash ?? NOBODY, input.pw);
      if (!row || !matches) throw new DomainError('ACCOUNT.UNAUTHORIZED', 'id or password is wrong');
      if (row.temporary_password_expires_at && row.temporary_password_expires_at.getTime() <= clock.now()) {
        throw new DomainError('ACCOUNT.UNAUTHORIZED', 'the temporary password has expired: ask an administrator for a new one');
      }
      return { ...(await tokens(row)), passwordChangeRequired: row.temporary_password_expires_at !== null };
    },

    /** A new access token for a valid refresh token of a user whose tokens were not revoked. */
    async refresh(refreshToken: string) {
      const claims = await verifyToken(refreshToken, secret, 'refresh', clock);
      const row = await findAccount(db, String(claims.sub));
      const problem = tokenProblem({ ver: Number(claims.ver) }, row && snapshotOf(row));
      if (problem || !row) throw new DomainError('ACCOUNT.UNAUTHORIZED', problem ?? 'the token belongs to no user');
      return { accessToken: (await tokens(row)).accessToken };
    },

    /** The caller behind a verified access token, from the account database itself. */
    async caller(claims: Record<string, unknown>, level: 'access' | 'admin'): Promise<CallerCheck<AccountCaller>> {
      let row: AccountRow | undefined;
      const check = await checkCaller(async (id) => {
        row = await findAccount(db, id);
        return row && snapshotOf(row);
      }, claims, level);
      return 'refused' in check ? check : { caller: { ...check.caller, row: row! } };
    },

    me: (me: AccountCaller) => viewOf(me.row),

    user: async (id: string) => viewOf(await requireAccount(id)),

    async changePassword(me: Caller, input: { currentPw: string; newPw: string }): Promise<void> {
      limits.password('newPw', input.newPw);
      const row = await requireAccount(me.id);
      if (!(await verifyPassword(row.password_hash, input.currentPw))) throw new DomainError('ACCOUNT.FORBIDDEN', 'currentPw: is not your current password');
      if (input.newPw === input.currentPw) throw new DomainError('ACCOUNT.CONFLICT', 'newPw: must differ from the current password');
      const passwordHash = await hashPassword(input.newPw);
      await change(me.id, (tx) => setPassword(tx, me.id, passwordHash, null));
    },

    async setNickname(me: Caller, nickname: string | null): Promise<UserView> {
      limits.nickname(nickname);
      return viewOf((await change(me.id, (tx) => setProfile(tx, me.id, { nickname }))) ?? (await requireAccount(me.id)));
    },

    async setBio(me: Caller, bio: string | null): Promise<UserView> {
      limits.bio(bio);
      return viewOf((await change(me.id, (tx) => setProfile(tx, me.id, { bio }))) ?? (await requireAccount(me.id)));
    },

    /**
     * A random password that replaces the user's and expires; every token of the user is
     * revoked. Shown once, to the administrator, who hands it over (there is no e-mail).
     */
    async issueTemporaryPassword(id: string): Promise<{ temporaryPassword: string }> {
      await requireAccount(id);
      const temporaryPassword = genSalt(16);
      const passwordHash = await hashPassword(temporaryPassword);
      const until = new Date(clock.now() + settings.temporaryPasswordTtlSeconds * 1000);
      const updated = await change(id, (tx) => setPassword(tx, id, passwordHash, until));
      if (!updated) throw new DomainError('ACCOUNT.NOT_FOUND', `no user ${id}`);
      return { temporaryPassword };
    },

    totals: async () => ({ totalUsers: await countAccounts(db) }),
  };
}

export type AccountUseCases = ReturnType<typeof accountUseCases>;
