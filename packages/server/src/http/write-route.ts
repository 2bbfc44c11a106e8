// Whether a request writes, declared in one place: on the route. A write route is registered
// with the `writeRoute` marker in front of its handler,
//
//     api.post('/documents', writeRoute, handler)
//
// and every policy that depends on it asks `isWriteRequest(c)`:
//   - forward.ts: a follower forwards a write to the leader (and checks its origin and content type
//     first, since the leader sees neither),
//   - public/app.ts: the cross-site guard, the JSON content type and document limits of a write's
//     body, and no min_index wait for writes,
//   - metrics/http-metrics.ts: the write counter.
//
// Why a marker read through hono's router, not a table of method and path patterns: hono matches a
// request against every route once, before the first middleware runs, and `matchedRoutes(c)`
// (hono/route) lists all that matched, the handlers registered after the running middleware
// included. So a middleware that runs before the routes (write forwarding sits in front of the
// public API) can see whether the route the request is headed for is declared a write, under
// whatever prefix it is mounted (/api/v1, /workspace/:workspace/api/v1) and with the router's own
// matching (`:id` is one segment; `/documents/` is not `/documents`). A table beside the routes
// would be a second description of them that can drift from the first, as the regexes it replaces
// did (three of them, in three files). write-route.test.ts checks the node's whole route table: every
// POST and DELETE under /documents is a declared write, nothing else is.
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { RouterRoute } from 'hono/types';

/**
 * Declares the route a write: only the leader serves it, a follower forwards it before it gets
 * here. It does nothing when it runs; it is found among the matched routes (isWriteRequest).
 */
export const writeRoute: MiddlewareHandler = async function writeRoute(_c, next) {
  await next();
};

/**
 * `app.route()` wraps each handler of a sub-app that has its own error handler and keeps the
 * handler it wrapped under this key (hono/dev's inspectRoutes unwraps it the same way). The public
 * API is two such levels deep in a node's app.
 */
const composed_handler_key = '__COMPOSED_HANDLER';
/** Deepest nesting of sub-apps unwrapped. */
const route_nesting_max = 8;

function innermost(handler: unknown): unknown {
  let h = handler;
  for (let depth = 0; depth < route_nesting_max; depth++) {
    const inner: unknown = typeof h === 'function' ? (h as unknown as Record<string, unknown>)[composed_handler_key] : undefined;
    if (inner === undefined) return h;
    h = inner;
  }
  throw new Error(`invariant: a route handler is wrapped more than ${route_nesting_max} times (sub-apps nested that deep)`);
}

/** True when this entry of a router's table is the writeRoute marker of a route. */
export function isDeclaredWrite(route: RouterRoute): boolean {
  return route.method !== 'ALL' && innermost(route.handler) === writeRoute;
}

/** True when the route this request matched is declared a write (also before the route runs). */
export function isWriteRequest(c: Context): boolean {
  return matchedRoutes(c).some(isDeclaredWrite);
}
