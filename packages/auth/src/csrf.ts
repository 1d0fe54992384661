/**
 * CSRF defence for cookie-authenticated requests (OWASP CSRF cheat sheet: Fetch Metadata, then Origin).
 * Bearer tokens are exempt: a browser never attaches them by itself.
 */
export function isTrustedOrigin(
  headers: { 'sec-fetch-site'?: string | string[] | undefined; origin?: string | string[] | undefined },
  allowedOrigins: readonly string[],
): boolean {
  const site = headers['sec-fetch-site'];
  if (site === 'same-origin') return true;
  const origin = headers.origin;
  if (typeof origin !== 'string' || origin === 'null') return false;
  return allowedOrigins.includes(origin);
}

/** A browser declared the request cross-site (or same-site from a sibling) and its Origin is not allowed. */
export function isCrossSiteBrowserRequest(
  headers: { 'sec-fetch-site'?: string | string[] | undefined; origin?: string | string[] | undefined },
  allowedOrigins: readonly string[],
): boolean {
  const site = headers['sec-fetch-site'];
  if (site !== 'cross-site' && site !== 'same-site') return false;
  return !(typeof headers.origin === 'string' && allowedOrigins.includes(headers.origin));
}
