// Reading a request: JSON body, workspace, write concern, minimum index, auth.

import type { Context, MiddlewareHandler } from 'hono';
import type { WriteConcern } from '../../config/types.ts';
import { workspace_id_pattern, workspace_id_rule } from '../../store/validate.ts';
import { bearer, secretsEqual } from '../secret.ts';
import { ApiError, errorBody } from './errors.ts';
import { MinIndexParam, WriteConcernParam, write_concerns } from '../openapi/requests.ts';

export const default_workspace = 'default';

/**
 * The body parsed as JSON whatever the Content-Type (the clustering guide's curl lines send
 * JSON as form data). Empty or malformed -> 400 invalid_json. The size limit is enforced before
 * this runs (bodyLimit middleware).
 */
export async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim().length === 0) throw new ApiError(400, 'invalid_json', 'request body must be JSON; it is empty', 'body');
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ApiError(400, 'invalid_json', `request body is not valid JSON: ${(err as Error).message}`, 'body');
  }
}

const json_type_re = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;

/**
 * 415 unsupported_media_type unless the body is declared JSON (`application/json` or a
 * `+json` type). A browser can send a text/plain or form body to another site without asking;
 * a JSON one it sends only after a CORS preflight this API never grants.
 */
export function requireJsonBody(): MiddlewareHandler {
  return async function requireJson(c, next) {
    const type = c.req.header('content-type') ?? '';
    if (!json_type_re.test(type.trim())) {
      return c.json(
        errorBody('unsupported_media_type', `document writes take a JSON body: send Content-Type: application/json (got ${type === '' ? 'none' : JSON.stringify(type.slice(0, 100))})`, 'Content-Type'),
        415,
      );
    }
    return next();
  };
}

function checkWorkspace(ws: string, field: string): string {
  if (!workspace_id_pattern.test(ws)) {
    throw new ApiError(400, 'invalid_workspace', `workspace id must be ${workspace_id_rule}; got ${JSON.stringify(ws.slice(0, 80))}`, field);
  }
  return ws;
}

/**
 * The workspace of a request, in this order: X-Workspace-ID header, ?workspace=, the
 * /workspace/:workspace/ path prefix, the body's workspace_path (its last path segment), else
 * "default". The first one present decides and must be valid.
 */
export function resolveWorkspace(c: Context, body: unknown): string {
  const header = c.req.header('x-workspace-id');
  if (header !== undefined) return checkWorkspace(header.trim(), 'X-Workspace-ID');
  const query = c.req.query('workspace');
  if (query !== undefined) return checkWorkspace(query, 'workspace');
  const params: Record<string, string | undefined> = c.req.param();
  const fromPath = params.workspace;
  if (fromPath !== undefined) return checkWorkspace(fromPath, 'workspace');
  if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'workspace_path' in body) {
    const wp = body.workspace_path;
    if (wp !== undefined && wp !== null) {
      if (typeof wp !== 'string') throw new ApiError(400, 'invalid_type', 'workspace_path must be a string', 'workspace_path');
      const segment = wp.split(/[\\/]+/).filter((s) => s.length > 0).pop();
      if (segment === undefined) throw new ApiError(400, 'invalid_workspace', 'workspace_path has no path segment', 'workspace_path');
      return checkWorkspace(segment, 'workspace_path');
    }
  }
  return default_workspace;
}

/** ?write_concern= or X-Write-Concern; undefined = the cluster's default. */
export function writeConcern(c: Context): WriteConcern | undefined {
  const raw = c.req.query('write_concern') ?? c.req.header('x-write-concern');
  if (raw === undefined || raw === '') return undefined;
  const parsed = WriteConcernParam.safeParse(raw);
  if (!parsed.success) throw new ApiError(400, 'invalid_value', `write_concern must be one of ${write_concerns.join(', ')}`, 'write_concern');
  return parsed.data satisfies WriteConcern;
}

/** ?min_index= or X-Min-Index: a non-negative integer, or undefined. */
export function minIndex(c: Context): number | undefined {
  const raw = c.req.query('min_index') ?? c.req.header('x-min-index');
  if (raw === undefined || raw === '') return undefined;
  if (!MinIndexParam.safeParse(raw).success) throw new ApiError(400, 'invalid_value', 'min_index must be a non-negative integer', 'min_index');
  return Number(raw);
}

/**
 * Bearer token check in constant time (secret.ts); no token configured = open. Not hono's
 * bearerAuth: it answers 400 rather than 401 for a header it cannot parse and for any token
 * outside RFC 6750's token characters (`server.auth_token` may hold others, which it would then
 * never accept), and it throws its answer as an HTTPException, which this API's error handler
 * would turn into another body.
 */
export function bearerAuth(token: string): MiddlewareHandler {
  return async function requireBearer(c, next) {
    if (token === '') return next();
    if (!secretsEqual(bearer(c.req.header('authorization')), token)) {
      c.header('WWW-Authenticate', 'Bearer');
      return c.json(errorBody('unauthorized', 'a valid bearer token is required (Authorization: Bearer <server.auth_token>)', 'Authorization'), 401);
    }
    return next();
  };
}
