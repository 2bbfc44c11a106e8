// The OpenAPI document: valid OpenAPI 3.1 (@apidevtools/swagger-parser), the same as the file kept
// in the repository and as what a node serves, and naming every route the node registers (and no
// route it does not).
import { readFileSync } from 'node:fs';
import SwaggerParser from '@apidevtools/swagger-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SERVER } from '../../config/schema.ts';
import { openOneNode } from '../../testing/one-node.ts';
import type { OneNode } from '../../testing/one-node.ts';
import { openApiDocument, openApiPath } from './document.ts';
import { openapi_file, openApiText } from './write.ts';

/** The validator's document type (openapi-types, which it re-exports only through its signature). */
type ApiDocument = Exclude<Parameters<typeof SwaggerParser.validate>[0], string>;

type Paths = Record<string, Record<string, { responses: Record<string, unknown> }>>;

/**
 * `METHOD /path` of every route the app registered. Middleware is left out: method ALL, and a
 * wildcard path (`app.on('POST', '*', guard)` registers `POST /_raft/*`).
 */
export function registeredRoutes(routes: ReadonlyArray<{ method: string; path: string }>): string[] {
  const out = new Set<string>();
  for (const r of routes) if (r.method !== 'ALL' && !r.path.includes('*')) out.add(`${r.method} ${openApiPath(r.path)}`);
  return [...out].sort();
}

/** `METHOD /path` of every operation of the document. */
export function documentedRoutes(paths: Paths): string[] {
  return Object.entries(paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)).sort();
}

describe('the OpenAPI document', () => {
  let node: OneNode;
  beforeAll(() => {
    // The default limits, as the kept file: testConfig lowers bulk_documents_max.
    node = openOneNode({ server: { bulk_documents_max: SERVER.defaults.bulk_documents_max } });
  });
  afterAll(() => node.close());

  it('is valid OpenAPI 3.1 by @apidevtools/swagger-parser', async () => {
    const doc = openApiDocument(SERVER.defaults);
    expect(doc.openapi).toBe('3.1.0');
    const api = await SwaggerParser.validate(structuredClone(doc) as unknown as ApiDocument);
    expect(Object.keys(api.paths ?? {}).length).toBeGreaterThan(20);
  });

  it('is refused by the validator when an operation answers no response (the check can fail)', async () => {
    const doc = structuredClone(openApiDocument(SERVER.defaults)) as { paths: Paths };
    const op = doc.paths['/api/v1/search']?.post;
    if (op === undefined) throw new Error('no POST /api/v1/search');
    op.responses = { 200: { content: {} } };
    await expect(SwaggerParser.validate(doc as unknown as ApiDocument)).rejects.toThrow(/description/);
  });

  it('is the file kept in the repository (npm run openapi writes it)', () => {
    expect(readFileSync(openapi_file, 'utf8'), 'packages/server/openapi.json is stale: run npm run openapi').toBe(openApiText());
  });

  it('is what a node serves at GET /openapi.json, without a token', async () => {
    const res = await node.app.request('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    expect(`${JSON.stringify(await res.json(), null, 2)}\n`).toBe(openApiText());
  });

  it("shows the node's own limits", async () => {
    const small = openOneNode({ server: { query_chars_max: 100 } });
    try {
      const doc = (await (await small.app.request('/openapi.json')).json()) as { components: { schemas: Record<string, { properties: Record<string, { maxLength?: number }> }> } };
      expect(doc.components.schemas.SearchRequest?.properties.query?.maxLength).toBe(100);
    } finally {
      small.close();
    }
  });

  it('names every route the node registers, and only those', () => {
    const registered = registeredRoutes(node.app.routes);
    const documented = documentedRoutes(openApiDocument(SERVER.defaults).paths as Paths);
    expect(registered.length).toBeGreaterThan(40);
    expect(registered.filter((r) => !documented.includes(r)), 'routes missing from http/openapi/routes.ts').toEqual([]);
    expect(documented.filter((r) => !registered.includes(r)), 'documented routes the node does not serve').toEqual([]);
  });

  it('counts a route added to the node as missing (the check can fail)', () => {
    const documented = documentedRoutes(openApiDocument(SERVER.defaults).paths as Paths);
    const missing = (routes: ReadonlyArray<{ method: string; path: string }>): string[] => registeredRoutes(routes).filter((r) => !documented.includes(r));
    const before = missing(node.app.routes);
    const after = missing([...node.app.routes, { method: 'GET', path: '/_raft/not-documented/:id' }]);
    expect(after.filter((r) => !before.includes(r))).toEqual(['GET /_raft/not-documented/{id}']);
  });

  it('gives every error answer of every operation its codes', () => {
    const paths = openApiDocument(SERVER.defaults).paths as Paths;
    for (const [path, ops] of Object.entries(paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          const text = JSON.stringify(response);
          expect(text, `${method} ${path} ${status}`).toMatch(/"enum":\["[a-z_]+"|"\$ref":"#\/components\/schemas\/(PreconditionFailed|Health|RaftHealth|ForceResyncAnswer)"/);
        }
      }
    }
  });
});
