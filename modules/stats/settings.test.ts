import { describe, expect, test } from 'bun:test';
import { ConfigError, parseConfig } from '../../platform/config.ts';
import { isTimeZone } from '../../platform/time-zone.ts';
import { statsTimeZone } from './settings.ts';

const configOf = (env: Record<string, string>) => parseConfig(env, [{ name: 'stats', defaultPort: 8004 }]);

describe('statistics settings', () => {
  test('MINIFB_TIME_ZONE — defaults to Asia/Seoul, takes any zone the runtime knows, UTC included', () => {
    expect(statsTimeZone(configOf({}))).toBe('Asia/Seoul');
    expect(statsTimeZone(configOf({ MINIFB_TIME_ZONE: ' Europe/Paris ' }))).toBe('Europe/Paris');
    expect(statsTimeZone(configOf({ MINIFB_TIME_ZONE: 'UTC' }))).toBe('UTC');
  });

  test('MINIFB_TIME_ZONE — an unknown zone is refused at start, naming the variable and the value', () => {
    const refuse = () => statsTimeZone(configOf({ MINIFB_TIME_ZONE: 'Mars/Olympus' }));
    expect(refuse).toThrow(ConfigError);
    expect(refuse).toThrow('MINIFB_TIME_ZONE: is not a time zone this runtime knows (got "Mars/Olympus")');
  });

  test('isTimeZone — IANA names only, case and spelling exact', () => {
    expect([isTimeZone('Asia/Seoul'), isTimeZone('UTC'), isTimeZone('America/New_York')]).toEqual([true, true, true]);
    expect([isTimeZone('asia/seoul'), isTimeZone(''), isTimeZone('Mars/Olympus'), isTimeZone('+09:00')]).toEqual([false, false, false, false]);
  });
});
