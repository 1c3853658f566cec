let known: Set<string> | undefined;

/** Whether this runtime knows the IANA time zone (UTC included). The list is read once. */
export function isTimeZone(zone: string): boolean {
  known ??= new Set([...Intl.supportedValuesOf('timeZone'), 'UTC']);
  return known.has(zone);
}
