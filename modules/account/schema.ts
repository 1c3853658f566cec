import type { ColumnType, Generated } from 'kysely';

/** The account module's database. Internal to the module. */
export interface AccountTable {
  id: string;
  /** Werkzeug format: `pbkdf2:sha256:600000$<salt>$<hex>`. */
  password_hash: string;
  name: string;
  nickname: string | null;
  bio: string | null;
  created_at: ColumnType<Date, never, never>;
  is_admin: Generated<boolean>;
  /** Bumped by a password change or a temporary password: older tokens stop working. */
  token_version: Generated<number>;
  /** Set while the password is a temporary one an administrator issued: when it stops working. */
  temporary_password_expires_at: Date | null;
}

export interface AccountDatabase {
  account: AccountTable;
}
