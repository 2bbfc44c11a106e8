// Constant-time comparison of shared secrets and tokens, and the credential checks built on it.
// Three credentials, never standing in for one another:
//   server.auth_token          the public API and the read-only operator views (/metrics,
//                              /api/v1/cluster/*, /dashboard, /health's workspace block)
//   replication.operator_token operator actions (POST /_raft/force-resync)
//   replication.secret         node-to-node replication (X-Cairn-Secret on /_raft/append, ...)
import crypto from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';

export function secretsEqual(given: string | undefined | null, expected: string): boolean {
  if (given === undefined || given === null) return false;
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b) && given.length === expected.length;
}

/** The token from `Authorization: Bearer <token>`, or null. */
export function bearer(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  return m?.[1] ?? null;
}

/** The password from `Authorization: Basic base64(user:password)` (any user), or null. */
export function basicPassword(header: string | undefined): string | null {
  if (header === undefined) return null;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header.trim());
  if (m?.[1] === undefined) return null;
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? null : decoded.slice(colon + 1);
}

/**
 * True when the request carries `token` as `Authorization: Bearer <token>` or as the password of
 * `Authorization: Basic` (what a browser sends after its login prompt). No token configured: true.
 */
export function carriesToken(c: Context, token: string): boolean {
  if (token === '') return true;
  const header = c.req.header('authorization');
  return secretsEqual(bearer(header), token) || secretsEqual(basicPassword(header), token);
}

export interface TokenGuardOptions {
  /** The configured token; empty leaves the routes open. */
  token: string;
  /** The config key named in the 401 message, e.g. `server.auth_token`. */
  name: string;
  /** `Basic` for pages a browser opens (it then shows its login prompt), else `Bearer`. */
  challenge: 'Bearer' | 'Basic';
}

/** 401 JSON `{error: {code: "unauthorized", ...}}` unless the request carries the token. */
export function requireToken(opts: TokenGuardOptions): MiddlewareHandler {
  const challenge = opts.challenge === 'Basic' ? 'Basic realm="cairn", charset="UTF-8"' : 'Bearer realm="cairn"';
  return async function requireTokenGuard(c, next) {
    if (carriesToken(c, opts.token)) return next();
    c.header('WWW-Authenticate', challenge);
    return c.json({ error: { code: 'unauthorized', message: `a valid token is required (Authorization: Bearer <${opts.name}>)`, field: 'Authorization' } }, 401);
  };
}
