// The public API as a Hono sub-app: /health and /api/v1/... (also under
// /workspace/:workspace/api/v1/...). Mount it with `app.route('/', createPublicApi(deps))`.
//
// Per request under /api/v1: bearer auth -> (writes) cross-site guard -> (writes with a body)
// JSON content type -> body size limit -> JSON body (POST) -> (writes with a body) configured
// document limits -> workspace -> activity -> per-workspace concurrency queue -> (reads) wait for
// min_index -> route. A write is a request whose route is declared one (../write-route.ts); the
// write routes take documents when they take a body (POST), so the same declaration decides the
// JSON content type and the document limits.

import { Hono } from 'hono';
import type { Context, Next } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { checkDocumentLimits } from '../../store/validate.ts';
import type { DocumentLimits } from '../../store/validate.ts';
import { crossSiteGuard } from '../cross-site.ts';
import { tier_priority, limitsFor } from '../../limits/limits.ts';
import { WorkspaceLimiter } from '../../limits/workspace-limiter.ts';
import { ActivityTracker } from './activity.ts';
import type { ApiEnv, RouteDeps } from './context.ts';
import type { PublicApiDeps } from './deps.ts';
import { registerDocumentRoutes } from './documents.ts';
import { errorBody, errorResponse } from './errors.ts';
import { untilReadable } from './readable.ts';
import { healthHandler } from './health.ts';
import { bearerAuth, minIndex, readJson, requireJsonBody, resolveWorkspace } from './request.ts';
import { registerSearchRoutes } from './search.ts';
import { bodyTooLargeAnswer } from '../forward.ts';
import { isWriteRequest } from '../write-route.ts';
import { openApiDocument } from '../openapi/document.ts';
import { requestSchemas } from '../openapi/requests.ts';

/** A write that carries documents in its body (create, bulk create). */
function isDocumentWrite(c: Context): boolean {
  return c.req.method === 'POST' && isWriteRequest(c);
}

function requestPriority(c: Context, dflt: number): number {
  const tier = c.req.header('x-resource-tier')?.toLowerCase();
  return tier !== undefined && tier in tier_priority ? (tier_priority[tier] ?? dflt) : dflt;
}

export function createPublicApi(input: PublicApiDeps): Hono {
  const deps: RouteDeps = {
    ...input,
    limiter: input.limiter ?? new WorkspaceLimiter({ limits: (ws) => limitsFor(input.config, ws) }),
    schemas: requestSchemas(input.config.server),
  };
  const clock = input.clock ?? Date.now;
  const activity = new ActivityTracker(clock);
  const { logger } = deps;

  const api = new Hono<ApiEnv>();

  api.use('*', bearerAuth(deps.config.server.auth_token));
  const guardCrossSite = crossSiteGuard(() => deps.config.server.allowed_origins);
  api.use('*', async function refuseCrossSiteWrites(c: Context, next: Next) {
    return isWriteRequest(c) ? guardCrossSite(c, next) : next();
  });
  const jsonOnly = requireJsonBody();
  api.use('*', async function documentWritesAreJson(c: Context, next: Next) {
    return isDocumentWrite(c) ? jsonOnly(c, next) : next();
  });
  const limits: DocumentLimits = {
    document_bytes_max: deps.config.server.document_bytes_max,
    metadata_bytes_max: deps.config.server.metadata_bytes_max,
    metadata_depth_max: deps.config.server.metadata_depth_max,
  };
  const bodyTooLarge = (c: Context): Response =>
    c.json(errorBody('body_too_large', `request body is larger than body_bytes_max (${deps.config.server.body_bytes_max} bytes)`, 'body'), 413);
  const countedBodyLimit = bodyLimit({ maxSize: deps.config.server.body_bytes_max, onError: bodyTooLarge });
  api.use('*', async function limitBody(c: Context, next: Next) {
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    // A declared length is checked here, so the body is then read straight from the socket;
    // only a chunked body (no length) goes through the counting stream of hono's bodyLimit. Its
    // declared-length check would do the same comparison, but it first reads `c.req.raw.body`,
    // which makes @hono/node-server build a web stream for every request.
    const declared = c.req.header('content-length');
    if (declared !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(declared) > deps.config.server.body_bytes_max) return bodyTooLargeAnswer(c, deps.config.server.body_bytes_max);
      return next();
    }
    return countedBodyLimit(c, next);
  });
  api.use('*', async function scopeToWorkspace(c: Context<ApiEnv>, next: Next) {
    const body = c.req.method === 'POST' || c.req.method === 'PUT' ? await readJson(c) : undefined;
    if (isDocumentWrite(c)) {
      // The configured limits, before the store's own checks; a bulk item over one refuses the call.
      if (Array.isArray(body)) body.forEach((item, i) => checkDocumentLimits(item, `[${i}].`, limits));
      else checkDocumentLimits(body, '', limits);
    }
    const ws = resolveWorkspace(c, body);
    c.set('body', body);
    c.set('ws', ws);
    activity.touch(ws);
    const read = !isWriteRequest(c);
    const wanted = read ? minIndex(c) : undefined;
    const priority = requestPriority(c, deps.limiter.limits(ws).priority);
    await deps.limiter.run(ws, priority, async () => {
      if (read) await untilReadable(deps, wanted);
      await next();
      if (!c.res.headers.has('X-Cairn-Index')) c.header('X-Cairn-Index', String(deps.replicator.appliedIndex()));
    });
  });
  registerSearchRoutes(api, deps);
  registerDocumentRoutes(api, deps);
  api.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  api.onError((err, c) => errorResponse(c, err, logger));

  const app = new Hono();
  app.use('*', async function servedBy(c, next) {
    await next();
    c.header('X-Served-By', deps.nodeId);
  });
  app.get('/health', healthHandler(deps, activity, clock));
  // Built on first request from this node's limits; open, as /health.
  let spec: Record<string, unknown> | null = null;
  app.get('/openapi.json', function openApi(c) {
    spec ??= openApiDocument(deps.config.server);
    return c.json(spec);
  });
  app.route('/api/v1', api);
  app.route('/workspace/:workspace/api/v1', api);
  app.notFound((c) => c.json(errorBody('not_found', `no route ${c.req.method} ${c.req.path}`), 404));
  app.onError((err, c) => errorResponse(c, err, logger));
  return app;
}
