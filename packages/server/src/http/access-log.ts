// Request ids and one structured log line per request. Polling endpoints (/_raft/*, /health,
// /metrics, the dashboard's stream) log at debug so they do not drown the rest.
import crypto from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { Logger } from 'pino';

const QUIET = /^\/(_raft\/|health$|metrics$|dashboard|api\/v1\/cluster\/)/;
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function accessLog(logger: Logger): MiddlewareHandler {
  return async function logRequest(c, next) {
    const given = c.req.header('x-request-id');
    const id = given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID();
    const started = performance.now();
    c.header('X-Request-Id', id);
    await next();
    const ms = Math.round((performance.now() - started) * 100) / 100;
    const line = { req_id: id, method: c.req.method, path: c.req.path, status: c.res.status, ms, workspace: c.req.header('x-workspace-id') };
    if (c.res.status >= 500) logger.warn(line, 'request failed');
    else if (QUIET.test(c.req.path)) logger.debug(line, 'request');
    else logger.info(line, 'request');
  };
}
