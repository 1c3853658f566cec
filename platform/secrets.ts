import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Config, ConfigError } from './config.ts';
import type { Logger } from './observability/log.ts';

const secrets = new Map<string, string>();

/**
 * The HS256 secret every minifb process signs and verifies tokens with: `JWT_SECRET` (at least 32
 * characters). Split processes must share one, so it is required when `NATS_URL` is set; the
 * embedded mode generates one on first start and keeps it in `DATA_DIR/jwt-secret`, so tokens
 * survive a restart.
 */
export function jwtSecret(config: Config, log: Logger): string {
  const key = `${config.dataDir}\0${config.env.JWT_SECRET ?? ''}`;
  const known = secrets.get(key);
  if (known) return known;
  const given = config.env.JWT_SECRET?.trim();
  let secret: string;
  if (given) {
    if (given.length < 32) throw new ConfigError('JWT_SECRET', 'must be at least 32 characters');
    secret = given;
  } else if (config.natsUrl) {
    throw new ConfigError('JWT_SECRET', 'is required when NATS_URL is set: every minifb process must verify the same tokens');
  } else {
    const file = join(config.dataDir, 'jwt-secret');
    if (existsSync(file)) {
      secret = readFileSync(file, 'utf8').trim();
    } else {
      mkdirSync(config.dataDir, { recursive: true });
      secret = randomBytes(48).toString('base64url');
      writeFileSync(file, `${secret}\n`, { mode: 0o600 });
      chmodSync(file, 0o600);
      log.info('generated a JWT secret for the embedded mode', { file });
    }
  }
  secrets.set(key, secret);
  return secret;
}
