/**
 * The cookie that carries an administrator's access token to /admin: set by the dashboard's
 * script, read by the module's HTTP routes. Shared so the two cannot drift apart.
 */
export const ADMIN_COOKIE = 'minifb_admin';

/** The value of the admin cookie in a `Cookie` header (or `document.cookie`), or null. */
export function adminCookie(header: string | null | undefined): string | null {
  for (const part of header?.split(';') ?? []) {
    const cookie = part.trim();
    if (cookie.startsWith(`${ADMIN_COOKIE}=`)) return cookie.slice(ADMIN_COOKIE.length + 1) || null;
  }
  return null;
}
