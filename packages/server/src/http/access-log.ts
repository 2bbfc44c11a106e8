// Request ids and one structured log line per request. Polling endpoints (/_raft/*, /health,
// /metrics, the dashboard's stream) log at debug so they do not drown the rest.
//
// The id is hono's requestId middleware's (hono/request-id): it answers it in X-Request-Id and
// puts it in the context (`c.get('requestId')`), where write forwarding reads it to send it on, so
// the follower and the leader log a forwarded write under one id. An id the client sends is kept
// when it is 1 to request_id_chars_max characters of [A-Za-z0-9_.:=-]; hono keeps [A-Za-z0-9_=-],
// and the generator, which it calls for any other id, keeps one with `.` or `:` too (ids such as
// `checkout.42:retry`), else makes a UUID.
import crypto from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { requestId } from 'hono/request-id';
import type { RequestIdVariables } from 'hono/request-id';
import type { Logger } from 'pino';

const QUIET = /^\/(_raft\/|health$|metrics$|dashboard|api\/v1\/cluster\/)/;
/** Longest request id kept from the client; a longer one is replaced. */
export const request_id_chars_max = 128;
const REQUEST_ID = /^[\w.:=-]+$/;

function keptOrNew(c: Context): string {
  const given = c.req.header('x-request-id');
  return given !== undefined && given.length <= request_id_chars_max && REQUEST_ID.test(given) ? given : crypto.randomUUID();
}

export function accessLog(logger: Logger): MiddlewareHandler<{ Variables: RequestIdVariables }> {
  const assignId = requestId({ limitLength: request_id_chars_max, generator: keptOrNew });
  return async function logRequest(c, next) {
    const started = performance.now();
    await assignId(c, next);
    const ms = Math.round((performance.now() - started) * 100) / 100;
    const line = { req_id: c.get('requestId'), method: c.req.method, path: c.req.path, status: c.res.status, ms, workspace: c.req.header('x-workspace-id') };
    if (c.res.status >= 500) logger.warn(line, 'request failed');
    else if (QUIET.test(c.req.path)) logger.debug(line, 'request');
    else logger.info(line, 'request');
  };
}
