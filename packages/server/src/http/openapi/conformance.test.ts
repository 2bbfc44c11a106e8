// The answers of a real in-process node (the real Replica, store and routes: openOneNode) checked
// against its OpenAPI document: for every request below, the status is one the operation
// declares and the JSON body validates (ajv, JSON Schema 2020-12) against the schema of that
// status, error codes included (each error answer's code is in the operation's list for it).
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOneNode } from '../../testing/one-node.ts';
import type { OneNode } from '../../testing/one-node.ts';
import { openApiPath } from './document.ts';

type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema: Json }> }>;
}

/** Validates answers against one document. */
class Conformance {
  private readonly ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: false });
  private readonly compiled = new Map<string, ValidateFunction>();
  /** `METHOD /path status` of every answer checked. */
  readonly seen = new Set<string>();

  constructor(private readonly doc: { paths: Record<string, Record<string, Operation>>; components: Json }) {
    this.ajv.addSchema({ $id: 'cairn', components: doc.components });
  }

  /** The operation a concrete request path answers to (`{id}` and `{workspace}` match one segment). */
  operation(method: string, url: string): { path: string; op: Operation } {
    const pathname = new URL(url, 'http://x').pathname;
    for (const [path, ops] of Object.entries(this.doc.paths)) {
      const re = new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`);
      const op = ops[method.toLowerCase()];
      if (op !== undefined && re.test(pathname)) return { path, op };
    }
    throw new Error(`no operation ${method} ${pathname} in the document`);
  }

  /** Fails unless the answer is declared for the operation and its body validates. */
  async check(method: string, url: string, res: Response): Promise<{ status: number; body: unknown }> {
    const { path, op } = this.operation(method, url);
    const status = String(res.status);
    const text = await res.text();
    const declared = op.responses[status];
    expect(declared, `${method} ${path} answered ${status} (${text.slice(0, 200)}), which the document does not declare`).toBeDefined();
    const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    const media = declared?.content?.[type];
    expect(media, `${method} ${path} ${status} answered ${type}, not declared`).toBeDefined();
    let body: unknown = text;
    if (type === 'application/json' && media !== undefined) {
      body = JSON.parse(text) as unknown;
      const key = `${method} ${path} ${status}`;
      let validate = this.compiled.get(key);
      if (validate === undefined) {
        const schema = JSON.parse(JSON.stringify(media.schema).replaceAll('"#/components/', '"cairn#/components/')) as Json;
        validate = this.ajv.compile(schema);
        this.compiled.set(key, validate);
      }
      const ok = validate(body);
      expect(ok, `${key}: ${JSON.stringify(validate.errors)} in ${text.slice(0, 300)}`).toBe(true);
    }
    this.seen.add(`${method} ${path} ${status}`);
    return { status: res.status, body };
  }
}

describe("a node's answers against its OpenAPI document", () => {
  let node: OneNode;
  let guarded: OneNode;
  let spec: Conformance;
  const call = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}, on: OneNode = node) => {
    const init: RequestInit = { method, headers: { 'content-type': 'application/json', ...headers } };
    if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
    return spec.check(method, url, await on.app.request(url, init));
  };

  beforeAll(async () => {
    node = openOneNode({ server: { bulk_documents_max: 3, patterns_max: 2 } });
    guarded = openOneNode({ id: 'node-1', server: { auth_token: 'secret-token' } });
    await node.replica.waitApplied(0, 1000);
    spec = new Conformance((await (await node.app.request('/openapi.json')).json()) as ConstructorParameters<typeof Conformance>[0]);
  });
  afterAll(() => {
    node.close();
    guarded.close();
  });

  it('documents what the document API answers, successes and refusals', async () => {
    const put = await call('POST', '/api/v1/documents', { id: 'docs/policy.md', path: 'docs/policy.md', content: 'Enforcement patterns for AI safety reviews', metadata: { team: 'a' } }, { 'X-Workspace-ID': 'ws-a' });
    expect(put.status).toBe(201);
    const etag = (put.body as { etag: string }).etag;
    expect((await call('POST', '/api/v1/documents', { id: 'docs/policy.md', content: 'x' }, { 'X-Workspace-ID': 'ws-a', 'If-Match': '"nope"' })).status).toBe(412);
    expect((await call('POST', '/api/v1/documents', { id: 'docs/policy.md', content: 'again' }, { 'X-Workspace-ID': 'ws-a', 'If-Match': `"${etag}"` })).status).toBe(201);
    for (const [body, status] of [
      [{ path: 'a.md' }, 400], [{ content: 5 }, 400], [{ content: '  ' }, 400], [{ content: 'x', id: 'a\u0000b' }, 400],
      [{ content: 'x', metadata: [] }, 400], [{ content: 'x', vector: [1, 'a'] }, 400], ['{"content": ', 400], [[{ content: 'x' }], 400],
    ] as const) {
      expect((await call('POST', '/api/v1/documents', body)).status).toBe(status);
    }
    expect((await call('POST', '/api/v1/documents', { content: 'x' }, { 'content-type': 'text/plain' })).status).toBe(415);
    expect((await call('POST', '/api/v1/documents', { content: 'x' }, { Origin: 'http://elsewhere.example' })).status).toBe(403);
    expect((await call('POST', '/api/v1/documents?write_concern=most', { content: 'x' })).status).toBe(400);
    expect((await call('POST', '/api/v1/documents', { content: 'x' }, { 'X-Workspace-ID': 'bad ws!' })).status).toBe(400);

    expect((await call('POST', '/api/v1/documents/bulk', [{ content: 'one' }, { content: 2 }], { 'X-Workspace-ID': 'ws-a' })).status).toBe(201);
    expect((await call('POST', '/api/v1/documents/bulk', { documents: [{ content: 'three' }] }, { 'X-Workspace-ID': 'ws-a' })).status).toBe(201);
    expect((await call('POST', '/api/v1/documents/bulk', [{ content: 1 }])).status).toBe(400);
    expect((await call('POST', '/api/v1/documents/bulk', [])).status).toBe(400);
    expect((await call('POST', '/api/v1/documents/bulk', [{ content: 'a' }, { content: 'b' }, { content: 'c' }, { content: 'd' }])).status).toBe(413);

    expect((await call('GET', '/api/v1/documents?limit=1', undefined, { 'X-Workspace-ID': 'ws-a' })).status).toBe(200);
    expect((await call('GET', '/api/v1/documents?limit=0')).status).toBe(400);
    expect((await call('GET', '/api/v1/documents?cursor=forged')).status).toBe(400);
    expect((await call('GET', '/workspace/ws-a/api/v1/documents/docs%2Fpolicy.md')).status).toBe(200);
    expect((await call('GET', '/api/v1/documents/absent')).status).toBe(404);
    expect((await call('GET', '/api/v1/documents/absent?min_index=-1')).status).toBe(400);
    expect((await call('DELETE', '/api/v1/documents/docs%2Fpolicy.md?if_match=nope', undefined, { 'X-Workspace-ID': 'ws-a' })).status).toBe(412);
    expect((await call('DELETE', '/api/v1/documents/docs%2Fpolicy.md', undefined, { 'X-Workspace-ID': 'ws-a' })).status).toBe(200);
    expect((await call('DELETE', '/api/v1/documents/docs%2Fpolicy.md', undefined, { 'X-Workspace-ID': 'ws-a' })).status).toBe(404);
  });

  it('documents what search and assembly answer, successes and refusals', async () => {
    await call('POST', '/api/v1/documents', { id: 'guide', path: 'docs/guide.md', content: 'React component patterns and hooks' }, { 'X-Workspace-ID': 'ws-s' });
    const ws = { 'X-Workspace-ID': 'ws-s' };
    expect((await call('GET', '/api/v1/documents/search?q=react&limit=5', undefined, ws)).status).toBe(200);
    expect((await call('GET', '/api/v1/documents/search', undefined, ws)).status).toBe(400);
    expect((await call('GET', '/api/v1/documents/search?q=a&limit=many', undefined, ws)).status).toBe(400);
    for (const mode of ['lexical', 'vector', 'hybrid']) expect((await call('POST', '/api/v1/search', { query: 'component patterns', k: 3, mode }, ws)).status).toBe(200);
    expect((await call('POST', '/api/v1/search', { query: 'component', granularity: 'document' }, ws)).status).toBe(200);
    for (const body of [{ query: '  ' }, { query: ['a'] }, { query: 'a', mode: 'fuzzy' }, { query: 'a', k: -1 }, { query: 'a', granularity: 'page' }, { query: 'a', vector: [1, 2] }]) {
      expect((await call('POST', '/api/v1/search', body, ws)).status).toBe(400);
    }
    const assembled = await call('POST', '/api/v1/assemble', { query: 'React component patterns', max_tokens: 500, granularity: 'passage' }, ws);
    expect(assembled.status).toBe(200);
    expect((assembled.body as { documents: unknown[] }).documents.length).toBe(1);
    expect((await call('POST', '/workspace/ws-s/api/v1/context/assemble', { query: 'hooks' })).status).toBe(200);
    for (const body of [{ max_tokens: 10 }, { query: 'q', max_tokens: 0 }, { query: 'q', include_patterns: [1] }, { query: 'q', include_patterns: ['a', 'b', 'c'] }, { query: 'q', exclude_patterns: ['[z-a]'] }, { query: 'x'.repeat(9000) }]) {
      expect((await call('POST', '/api/v1/assemble', body, ws)).status).toBe(400);
    }
  });

  it('documents the answers of health, operations and replication routes', async () => {
    expect((await call('GET', '/health')).status).toBe(200);
    expect((await call('GET', '/health?workspace=bad%20ws')).status).toBe(400);
    expect((await call('GET', '/openapi.json')).status).toBe(200);
    expect((await call('GET', '/metrics')).status).toBe(200);
    for (const name of ['self', 'overview', 'nodes', 'history']) expect((await call('GET', `/api/v1/cluster/${name}`)).status).toBe(200);
    expect((await call('GET', '/api/v1/cluster/self?history=1')).status).toBe(200);
    expect((await call('GET', '/dashboard')).status).toBe(200);
    for (const name of ['health', 'sync-status', 'resync_stats', 'checksum', 'log-position']) expect((await call('GET', `/_raft/${name}`)).status).toBe(200);
    expect((await call('GET', '/_raft/log-entries?from=0&to=1')).status).toBe(400);
    expect((await call('POST', '/_raft/force-resync')).status).toBe(400);
    expect((await call('POST', '/_raft/force-resync?target=node-9')).status).toBe(404);
    expect((await call('POST', '/_raft/transfer-leadership')).status).toBe(400);
    expect((await call('POST', '/_raft/transfer-leadership?target=node-9')).status).toBe(404);
    expect((await call('POST', '/_raft/append', '', { 'content-type': 'application/msgpack' })).status).toBe(400);
    expect((await call('POST', '/_raft/timeout-now', '{}')).status).toBe(400);
    expect((await call('POST', '/_raft/append', '', { Origin: 'http://elsewhere.example' })).status).toBe(403);
    expect((await call('GET', '/_raft/backup')).status).toBe(200);
    expect((await call('GET', '/_raft/rolling-restart')).status).toBe(501);
    expect((await call('POST', '/_raft/rolling-restart?keep_leader=maybe')).status).toBe(400);
  });

  it('documents the refusals of a node that asks for a token', async () => {
    for (const [method, url] of [['GET', '/api/v1/documents'], ['POST', '/api/v1/search'], ['GET', '/metrics'], ['GET', '/api/v1/cluster/nodes']] as const) {
      expect((await call(method, url, method === 'POST' ? { query: 'q' } : undefined, {}, guarded)).status).toBe(401);
    }
    const open = await call('GET', '/health', undefined, {}, guarded);
    expect(open.status).toBe(200);
    expect((open.body as Json).workspaces).toBeUndefined();
  });

  it('fails an answer the document does not describe (the check can fail)', async () => {
    const wrongShape = new Response(JSON.stringify({ id: 'a', index: 'one', etag: 'e' }), { status: 201, headers: { 'content-type': 'application/json' } });
    await expect(spec.check('POST', '/api/v1/documents', wrongShape)).rejects.toThrow(/index/);
    const undeclaredCode = new Response(JSON.stringify({ error: { code: 'something_else', message: 'm' } }), { status: 400, headers: { 'content-type': 'application/json' } });
    await expect(spec.check('POST', '/api/v1/search', undeclaredCode)).rejects.toThrow(/enum|allowed/);
    const undeclaredStatus = new Response('{}', { status: 418, headers: { 'content-type': 'application/json' } });
    await expect(spec.check('GET', '/health', undeclaredStatus)).rejects.toThrow(/418/);
  });

  it('checked an answer of every public route', () => {
    const routes = new Set([...spec.seen].map((s) => s.split(' ').slice(0, 2).join(' ')));
    for (const r of ['POST /api/v1/documents', 'POST /api/v1/documents/bulk', 'GET /api/v1/documents', 'GET /api/v1/documents/search', 'GET /api/v1/documents/{id}', 'DELETE /api/v1/documents/{id}', 'POST /api/v1/search', 'POST /api/v1/assemble', 'GET /health']) {
      expect(routes.has(r), r).toBe(true);
    }
    expect(openApiPath('/workspace/:workspace/api/v1/documents/:id')).toBe('/workspace/{workspace}/api/v1/documents/{id}');
  });
});
