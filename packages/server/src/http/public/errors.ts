// One JSON error shape for every 4xx/5xx of the public API: {error: {code, message, field?}}.

import { endOnBrokenInvariant } from '../../fatal.ts';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import { EmbeddingError } from '../../embed/types.ts';
import { LimitError } from '../../limits/workspace-limiter.ts';
import { InputError } from '../../store/errors.ts';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly retry_after_s?: number,
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string, field?: string): { error: { code: string; message: string; field?: string } } {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

interface StatusCarrier {
  status: number;
  code?: unknown;
  message?: unknown;
  retry_after_s?: unknown;
  toJSON?: () => unknown;
}

function isStatusCarrier(err: unknown): err is StatusCarrier {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';
}

/** Maps any thrown value to the JSON error response. Unknown errors are logged and become 500. */
export function errorResponse(c: Context, err: unknown, logger: Logger): Response {
  endOnBrokenInvariant(err, logger, `${c.req.method} ${c.req.path}`);
  if (err instanceof ApiError || err instanceof InputError) {
    if (err instanceof ApiError && err.retry_after_s !== undefined) c.header('Retry-After', String(err.retry_after_s));
    return c.json(errorBody(err.code, err.message, err.field), err.status);
  }
  if (err instanceof LimitError) {
    if (err.retry_after_s !== null) c.header('Retry-After', String(err.retry_after_s));
    return c.json(errorBody(err.code, err.message), err.status);
  }
  if (err instanceof EmbeddingError) {
    logger.warn({ err: err.message }, 'embedding failed');
    return c.json(errorBody('embedding_failed', err.message), 502);
  }
  if (isStatusCarrier(err) && err.status >= 400 && err.status <= 599) {
    // The replication layer's errors (e.g. 503 leader unreachable) carry their own status and body.
    const retry = typeof err.retry_after_s === 'number' ? err.retry_after_s : err.status === 503 ? 1 : undefined;
    if (retry !== undefined) c.header('Retry-After', String(retry));
    const body = typeof err.toJSON === 'function' ? err.toJSON() : errorBody(typeof err.code === 'string' ? err.code : 'error', typeof err.message === 'string' ? err.message : 'request failed');
    return c.json(body as object, err.status as ContentfulStatusCode);
  }
  logger.error({ err }, 'unhandled error in public API');
  return c.json(errorBody('internal', 'internal error'), 500);
}

interface RouteEntry {
  method: string;
  path: string;
}

function routePattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

/**
 * The not-found handler of a node: 405 with `Allow` when the path is a route under other
 * methods, else 404, both in the JSON error shape. `routes` is read on first use (hono's
 * `app.routes`, after every route is mounted); middleware entries (method ALL) are not routes.
 */
export function unknownRoute(routes: () => readonly RouteEntry[]): (c: Context) => Response {
  let table: Array<{ method: string; re: RegExp }> | null = null;
  return function notFoundOrNotAllowed(c) {
    table ??= routes().filter((r) => r.method !== 'ALL').map((r) => ({ method: r.method, re: routePattern(r.path) }));
    const methods = new Set(table.filter((r) => r.re.test(c.req.path)).map((r) => r.method));
    if (methods.has('GET')) methods.add('HEAD');
    if (methods.size > 0 && !methods.has(c.req.method)) {
      const allow = [...methods].sort().join(', ');
      c.header('Allow', allow);
      return c.json(errorBody('method_not_allowed', `${c.req.method} is not allowed on ${c.req.path}; allowed: ${allow}`), 405);
    }
    return c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404);
  };
}
