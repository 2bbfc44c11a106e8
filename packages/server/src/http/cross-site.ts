// Refuses writes a browser sends on behalf of another site. A browser names the page's origin in
// `Origin` and, since 2020, says in `Sec-Fetch-Site` whether the page is on another site; a
// request carrying neither (curl, server-to-server, the cluster's own forwarding) is not a browser
// request and passes. hono/csrf is not used: it refuses a form-typed request that carries neither
// header (`curl -d` would fail), passes any JSON-typed one unchecked, and answers in text/plain.

import type { Context, MiddlewareHandler } from 'hono';

export const CROSS_SITE_CODE = 'cross_site';

function refuse(c: Context, message: string): Response {
  return c.json({ error: { code: CROSS_SITE_CODE, message, field: 'Origin' } }, 403);
}

/** The origin the request was addressed to: its Host header with the scheme the client used. */
function ownOrigins(c: Context): string[] {
  const url = new URL(c.req.url);
  const host = c.req.header('host') ?? url.host;
  const schemes = new Set([url.protocol.replace(/:$/, '')]);
  const forwarded = c.req.header('x-forwarded-proto');
  if (forwarded !== undefined && /^https?$/.test(forwarded.trim())) schemes.add(forwarded.trim());
  return [...schemes].map((scheme) => `${scheme}://${host}`.toLowerCase());
}

/**
 * 403 `cross_site` when `Origin` is present and neither in `allowedOrigins()` nor the request's
 * own origin, or when `Sec-Fetch-Site: cross-site` comes without an allowed `Origin` (an allowed
 * origin is by definition on another site, so its requests carry `cross-site` and must pass).
 * `allowedOrigins` is read per request so a reloaded config applies at once.
 */
export function crossSiteGuard(allowedOrigins: () => readonly string[]): MiddlewareHandler {
  return async function crossSite(c, next) {
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site')?.trim().toLowerCase();
    if (origin !== undefined) {
      const wanted = origin.trim().toLowerCase();
      const allowed = allowedOrigins().some((o) => o.toLowerCase() === wanted);
      if (!allowed && !ownOrigins(c).includes(wanted)) {
        return refuse(c, `origin ${JSON.stringify(origin)} may not write here; allowed: server.allowed_origins`);
      }
      if (allowed) return next();
    }
    if (site === 'cross-site') {
      return refuse(c, 'a cross-site browser request may not write here (Sec-Fetch-Site: cross-site); allowed origins: server.allowed_origins');
    }
    return next();
  };
}
