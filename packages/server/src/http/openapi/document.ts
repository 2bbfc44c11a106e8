// The OpenAPI 3.1 document of a node: routes.ts's table with the request schemas of the node's
// limits, through @hono/zod-openapi's generator. Served at GET /openapi.json; the one built from
// the default configuration is kept in packages/server/openapi.json (npm run openapi writes it,
// a test checks it is current).

import { OpenAPIHono, z } from '@hono/zod-openapi';
import type { RouteConfig } from '@hono/zod-openapi';
import type { ServerConfig } from '../../config/types.ts';
import { DocumentId, requestSchemas } from './requests.ts';
import type { RequestLimits } from './requests.ts';
import { ErrorBody, errorSchema } from './responses.ts';
import { routeDocs } from './routes.ts';
import type { Auth, RouteDoc } from './routes.ts';

export const openapi_version = '3.1.0';

/** `/api/v1/documents/:id` as OpenAPI writes it: `/api/v1/documents/{id}`. */
export function openApiPath(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

const security: Record<Auth, RouteConfig['security']> = {
  none: [],
  token: [{ authToken: [] }, {}],
  operator: [{ operatorBearer: [] }, { operatorHeader: [] }, {}],
  secret: [{ clusterSecret: [] }, {}],
};

const status_text: Record<number, string> = {
  400: 'the request is malformed', 401: 'a credential is missing or wrong', 403: 'a cross-site browser request',
  404: 'not found', 409: 'conflicts with the cluster state', 410: 'gone (compacted)', 412: 'precondition failed',
  413: 'too large', 415: 'not JSON', 429: 'over a workspace limit (Retry-After)', 500: 'internal error',
  502: 'an upstream (the embedding provider, a transfer) failed', 503: 'unavailable now (Retry-After)',
  504: 'min_index not applied in time', 507: 'out of storage',
};

function responses(doc: RouteDoc): RouteConfig['responses'] {
  const out: RouteConfig['responses'] = {};
  for (const [status, m] of Object.entries(doc.ok)) out[status] = { description: m.description, content: { [m.type]: { schema: m.schema } } };
  for (const [status, m] of Object.entries(doc.special ?? {})) out[status] = { description: m.description, content: { [m.type]: { schema: m.schema } } };
  for (const [status, codes] of Object.entries(doc.errors)) {
    const description = `${status_text[Number(status)] ?? 'error'}: ${codes.join(', ')}`;
    // A special body (412 precondition_failed, a 503 health answer) has its status alone.
    if (out[status] !== undefined) throw new Error(`invariant: ${doc.method} ${doc.path} answers ${status} in one shape`);
    out[status] = { description, content: { 'application/json': { schema: errorSchema(codes) } } };
  }
  return out;
}

function register(app: OpenAPIHono, doc: RouteDoc, prefix: boolean): void {
  const path = prefix ? `/workspace/{workspace}${openApiPath(doc.path)}` : openApiPath(doc.path);
  const params = doc.path.includes(':id') ? z.object({ id: DocumentId.openapi({ description: 'the document id, URL-encoded (docs%2Fpolicy.md for docs/policy.md)' }) }) : undefined;
  const request: NonNullable<RouteConfig['request']> = {};
  if (prefix) request.params = (params ?? z.object({})).extend({ workspace: z.string().openapi({ description: 'the workspace, when no header or ?workspace= names it' }) });
  else if (params !== undefined) request.params = params;
  if (doc.query !== undefined) request.query = doc.query;
  if (doc.headers !== undefined) request.headers = doc.headers;
  if (doc.body !== undefined) request.body = { required: doc.body.required ?? true, content: { [doc.body.type]: { schema: doc.body.schema } } };
  const route: RouteConfig = {
    method: doc.method,
    path,
    summary: doc.summary,
    tags: [doc.tag],
    operationId: `${doc.method}${(prefix ? `workspace ${doc.path}` : doc.path).replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
    request,
    responses: responses(doc),
    security: security[doc.auth],
  };
  app.openAPIRegistry.registerPath(route);
}

/** The OpenAPI document of a node with these limits. */
export function openApiDocument(limits: RequestLimits & Partial<ServerConfig>): Record<string, unknown> {
  const app = new OpenAPIHono();
  app.openAPIRegistry.register('Error', ErrorBody);
  app.openAPIRegistry.registerComponent('securitySchemes', 'authToken', { type: 'http', scheme: 'bearer', description: 'server.auth_token (none configured: open); the dashboard also takes it as the Basic password' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'operatorBearer', { type: 'http', scheme: 'bearer', description: 'replication.operator_token' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'operatorHeader', { type: 'apiKey', in: 'header', name: 'X-Cairn-Operator-Token', description: 'replication.operator_token' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'clusterSecret', { type: 'apiKey', in: 'header', name: 'X-Cairn-Secret', description: 'replication.secret: node to node only' });
  for (const doc of routeDocs(requestSchemas(limits))) {
    register(app, doc, false);
    if (doc.workspacePrefix === true) register(app, doc, true);
  }
  return app.getOpenAPI31Document({
    openapi: openapi_version,
    info: {
      title: 'Cairn',
      version: '0.1.0',
      description:
        'A replicated context store. Every 4xx/5xx answer is JSON {"error": {"code", "message", "field"?}}; an unknown path is 404 not_found and a known path under another method 405 method_not_allowed (with Allow). ' +
        'Writes carry their log index in X-Cairn-Index; reads take ?min_index= (or X-Min-Index). Limits shown are those of this node.',
    },
  }) as unknown as Record<string, unknown>;
}
