import { z } from 'zod';
import { type Config, ConfigError } from '../../platform/config.ts';
import { charCount, type TextLimit } from '../../platform/text.ts';
import { ACCOUNT_ID_PATTERN, ACCOUNT_LIMITS } from './contract/index.ts';

const within = (text: string, { min, max }: TextLimit) => charCount(text) >= min && charCount(text) <= max;

export interface AccountSettings {
  adminId: string;
  adminPassword: string;
  /** True when the administrator is the embedded mode's development default. */
  developmentAdmin: boolean;
  accessTtlSeconds: number;
  refreshTtlSeconds: number;
  temporaryPasswordTtlSeconds: number;
}

/** The development administrator of the embedded mode (README, start-up log). Never in split mode. */
export const DEVELOPMENT_ADMIN = { id: 'admin', password: 'minifb-admin-dev-password' } as const;

const seconds = (variable: string, value: string | undefined, fallback: number) => {
  if (value === undefined || value.trim() === '') return fallback;
  const parsed = z.coerce.number().int().min(1).max(10 * 365 * 86400).safeParse(value.trim());
  if (!parsed.success) throw new ConfigError(variable, `must be a whole number of seconds (got ${JSON.stringify(value)})`);
  return parsed.data;
};

/**
 * The account module's settings: the administrator created on first start
 * (MINIFB_ADMIN_ID, MINIFB_ADMIN_PASSWORD — required in split mode; the embedded mode falls
 * back to DEVELOPMENT_ADMIN), and token lifetimes.
 */
export function accountSettings(config: Config): AccountSettings {
  const env = config.env;
  const id = env.MINIFB_ADMIN_ID?.trim() || undefined;
  const password = env.MINIFB_ADMIN_PASSWORD || undefined;
  if (config.natsUrl && (!id || !password)) {
    throw new ConfigError(id ? 'MINIFB_ADMIN_PASSWORD' : 'MINIFB_ADMIN_ID', 'is required when NATS_URL is set (the development administrator exists in the embedded mode only)');
  }
  const adminId = id ?? DEVELOPMENT_ADMIN.id;
  const adminPassword = password ?? DEVELOPMENT_ADMIN.password;
  const { id: idLimit, password: pwLimit } = ACCOUNT_LIMITS;
  if (!within(adminId, idLimit) || !ACCOUNT_ID_PATTERN.test(adminId)) {
    throw new ConfigError('MINIFB_ADMIN_ID', `must be ${idLimit.min} to ${idLimit.max} letters, digits, _, - or .`);
  }
  if (!within(adminPassword, pwLimit)) throw new ConfigError('MINIFB_ADMIN_PASSWORD', `must be ${pwLimit.min} to ${pwLimit.max} characters`);
  return {
    adminId,
    adminPassword,
    developmentAdmin: !id && !password,
    accessTtlSeconds: seconds('JWT_ACCESS_TTL_SECONDS', env.JWT_ACCESS_TTL_SECONDS, 15 * 60),
    refreshTtlSeconds: seconds('JWT_REFRESH_TTL_SECONDS', env.JWT_REFRESH_TTL_SECONDS, 14 * 86400),
    temporaryPasswordTtlSeconds: seconds('TEMPORARY_PASSWORD_TTL_SECONDS', env.TEMPORARY_PASSWORD_TTL_SECONDS, 24 * 3600),
  };
}
