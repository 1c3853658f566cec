import { type Config, ConfigError } from '../../platform/config.ts';
import { isTimeZone } from '../../platform/time-zone.ts';

/** MINIFB_TIME_ZONE: the calendar of "posts today" (default Asia/Seoul). */
export function statsTimeZone(config: Config): string {
  const zone = config.env.MINIFB_TIME_ZONE?.trim() || 'Asia/Seoul';
  if (!isTimeZone(zone)) {
    throw new ConfigError('MINIFB_TIME_ZONE', `is not a time zone this runtime knows (got ${JSON.stringify(zone)})`);
  }
  return zone;
}
