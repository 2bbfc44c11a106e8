import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestApi, testConfig } from './testing.ts';
import type { TestApi } from './testing.ts';

type Case = [name: string, method: string, path: string, body: unknown, headers: Record<string, string>, status: number, field: string | undefined];

const vec = (n: number): number[] => Array.from({ length: n }, (_, i) => (i + 1) / n);

const cases: Case[] = [
  ['malformed JSON', 'POST', '/api/v1/documents', '{"content": ', {}, 400, 'body'],
  ['an empty body', 'POST', '/api/v1/documents', '', {}, 400, 'body'],
  ['an array where an object is expected', 'POST', '/api/v1/documents', [{ content: 'x' }], {}, 400, 'body'],
  ['a missing content', 'POST', '/api/v1/documents', { path: 'a.md' }, {}, 400, 'content'],
  ['a content of the wrong type', 'POST', '/api/v1/documents', { content: 5 }, {}, 400, 'content'],
  ['an empty content', 'POST', '/api/v1/documents', { content: '   ' }, {}, 400, 'content'],
  ['an id of the wrong type', 'POST', '/api/v1/documents', { id: 1, content: 'x' }, {}, 400, 'id'],
  ['an id with control characters', 'POST', '/api/v1/documents', { id: 'a\u0000b', content: 'x' }, {}, 400, 'id'],
  ['metadata that is not an object', 'POST', '/api/v1/documents', { content: 'x', metadata: 'm' }, {}, 400, 'metadata'],
  ['a path of the wrong type', 'POST', '/api/v1/documents', { content: 'x', path: ['a'] }, {}, 400, 'path'],
  ['a vector of the wrong dimension', 'POST', '/api/v1/documents', { content: 'x', vector: vec(3) }, {}, 400, 'vector'],
  ['a vector with non-numbers', 'POST', '/api/v1/documents', { content: 'x', vector: [1, 'a'] }, {}, 400, 'vector'],
  ['a workspace header with bad characters', 'POST', '/api/v1/documents', { content: 'x' }, { 'X-Workspace-ID': 'bad ws!' }, 400, 'X-Workspace-ID'],
  ['a too long workspace id', 'POST', '/api/v1/documents', { content: 'x' }, { 'X-Workspace-ID': 'w'.repeat(65) }, 400, 'X-Workspace-ID'],
  ['a bad ?workspace=', 'POST', '/api/v1/documents?workspace=%2E%2E', { content: 'x' }, {}, 400, 'workspace'],
  ['a bad /workspace/:id/ prefix', 'POST', '/workspace/-x/api/v1/documents', { content: 'x' }, {}, 400, 'workspace'],
  ['a workspace_path of the wrong type', 'POST', '/api/v1/documents', { content: 'x', workspace_path: 7 }, {}, 400, 'workspace_path'],
  ['a workspace_path ending in a bad segment', 'POST', '/api/v1/assemble', { query: 'q', workspace_path: '/p/a b' }, {}, 400, 'workspace_path'],
  ['an oversize body', 'POST', '/api/v1/documents', { content: 'x'.repeat(5000) }, {}, 413, 'body'],
  ['a bulk body over bulk_documents_max', 'POST', '/api/v1/documents/bulk', Array.from({ length: 6 }, () => ({ content: 'x' })), {}, 413, 'body'],
  ['a bulk body that is not an array', 'POST', '/api/v1/documents/bulk', { content: 'x' }, {}, 400, 'body'],
  ['an empty bulk body', 'POST', '/api/v1/documents/bulk', [], {}, 400, 'body'],
  ['a bulk body without one valid item', 'POST', '/api/v1/documents/bulk', [{ content: 1 }, {}], {}, 400, 'body'],
  ['an unknown write concern', 'POST', '/api/v1/documents?write_concern=most', { content: 'x' }, {}, 400, 'write_concern'],
  ['a bad X-Write-Concern on delete', 'DELETE', '/api/v1/documents/seed', undefined, { 'X-Write-Concern': 'some' }, 400, 'write_concern'],
  ['an empty search query', 'POST', '/api/v1/search', { query: '  ' }, {}, 400, 'query'],
  ['a search query of the wrong type', 'POST', '/api/v1/search', { query: ['a'] }, {}, 400, 'query'],
  ['an unknown search mode', 'POST', '/api/v1/search', { query: 'a', mode: 'fuzzy' }, {}, 400, 'mode'],
  ['a negative k', 'POST', '/api/v1/search', { query: 'a', k: -1 }, {}, 400, 'k'],
  ['a search vector of the wrong dimension', 'POST', '/api/v1/search', { query: 'a', mode: 'vector', vector: vec(5) }, {}, 400, 'vector'],
  ['a missing q', 'GET', '/api/v1/documents/search', undefined, {}, 400, 'q'],
  ['a non-numeric limit', 'GET', '/api/v1/documents/search?q=a&limit=many', undefined, {}, 400, 'limit'],
  ['an assemble without query', 'POST', '/api/v1/assemble', { max_tokens: 10 }, {}, 400, 'query'],
  ['an empty assemble query', 'POST', '/api/v1/context/assemble', { query: '' }, {}, 400, 'query'],
  ['a zero max_tokens', 'POST', '/api/v1/assemble', { query: 'q', max_tokens: 0 }, {}, 400, 'max_tokens'],
  ['a fractional max_documents', 'POST', '/api/v1/assemble', { query: 'q', max_documents: 1.5 }, {}, 400, 'max_documents'],
  ['include_patterns that are not strings', 'POST', '/api/v1/assemble', { query: 'q', include_patterns: [1] }, {}, 400, 'include_patterns'],
  ['a bad min_index', 'GET', '/api/v1/documents/seed?min_index=-1', undefined, {}, 400, 'min_index'],
  ['a zero list limit', 'GET', '/api/v1/documents?limit=0', undefined, {}, 400, 'limit'],
  ['a forged cursor', 'GET', '/api/v1/documents?cursor=nonsense', undefined, {}, 400, 'cursor'],
  ['a delete of an absent id', 'DELETE', '/api/v1/documents/absent', undefined, {}, 404, 'id'],
  ['a lone surrogate in content', 'POST', '/api/v1/documents', { content: 'a \ud800 b' }, {}, 400, 'content'],
  ['a lone surrogate in an id', 'POST', '/api/v1/documents', { id: 'x\udc00', content: 'x' }, {}, 400, 'id'],
  ['a lone surrogate in a path', 'POST', '/api/v1/documents', { path: '\ud800.md', content: 'x' }, {}, 400, 'path'],
  ['a lone surrogate in a language', 'POST', '/api/v1/documents', { language: '\ud800', content: 'x' }, {}, 400, 'language'],
  ['a lone surrogate in a metadata value', 'POST', '/api/v1/documents', { content: 'x', metadata: { a: ['\ud800'] } }, {}, 400, 'metadata.a[0]'],
  ['a noncharacter U+FFFF in content', 'POST', '/api/v1/documents', { content: 'x\uffff' }, {}, 400, 'content'],
  ['a lone surrogate in a bulk item', 'POST', '/api/v1/documents/bulk', [{ content: 'x\ud800' }], {}, 400, 'body'],
  ['the id "."', 'POST', '/api/v1/documents', { id: '.', content: 'x' }, {}, 400, 'id'],
  ['the id ".."', 'POST', '/api/v1/documents', { id: '..', content: 'x' }, {}, 400, 'id'],
  ['metadata deeper than metadata_depth_max', 'POST', '/api/v1/documents', { content: 'x', metadata: nested(9) }, {}, 400, 'metadata'],
  ['content over document_bytes_max', 'POST', '/api/v1/documents', { content: 'x'.repeat(1001) }, {}, 413, 'content'],
  ['metadata over metadata_bytes_max', 'POST', '/api/v1/documents', { content: 'x', metadata: { k: 'v'.repeat(300) } }, {}, 413, 'metadata'],
  ['a bulk item over document_bytes_max', 'POST', '/api/v1/documents/bulk', [{ content: 'x' }, { content: 'x'.repeat(1001) }], {}, 413, '[1].content'],
  ['a text/plain document write', 'POST', '/api/v1/documents', { content: 'x' }, { 'content-type': 'text/plain' }, 415, 'Content-Type'],
  ['a form-encoded bulk write', 'POST', '/api/v1/documents/bulk', [{ content: 'x' }], { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'Content-Type'],
  ['a cross-site write by Origin', 'POST', '/api/v1/documents', { id: 'seed', content: 'overwritten' }, { 'content-type': 'text/plain', Origin: 'http://evil.example' }, 403, 'Origin'],
  ['a cross-site JSON write by Origin', 'POST', '/api/v1/documents', { id: 'seed', content: 'overwritten' }, { Origin: 'http://evil.example' }, 403, 'Origin'],
  ['a cross-site delete by Sec-Fetch-Site', 'DELETE', '/api/v1/documents/seed', undefined, { 'Sec-Fetch-Site': 'cross-site' }, 403, 'Origin'],
  ['a cross-site bulk write', 'POST', '/api/v1/documents/bulk', [{ id: 'seed', content: 'x' }], { Origin: 'https://evil.example' }, 403, 'Origin'],
  ['an unknown route', 'GET', '/api/v1/nothing-here', undefined, {}, 404, undefined],
];

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = {};
  for (let i = 1; i < depth; i++) v = { a: v };
  return v;
}

describe('every bad input', () => {
  let api: TestApi;
  beforeAll(async () => {
    api = openTestApi({
      config: testConfig({ server: { body_bytes_max: 4096, bulk_documents_max: 5, document_bytes_max: 1000, metadata_bytes_max: 256, metadata_depth_max: 8 } }),
    });
    await api.call('POST', '/api/v1/documents', { id: 'seed', content: 'seed document' });
  });
  afterAll(() => api[Symbol.dispose]());

  it.each(cases)('answers %s with a JSON error naming the field, and writes nothing', async (_name, method, path, body, headers, status, field) => {
    const before = api.t.store.checksum();
    const proposed = api.replicator.proposed.length;
    const res = await api.call(method, path, body, headers);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const json = (await res.json()) as { error: { code: string; message: string; field?: string } };
    expect(json.error.code).toEqual(expect.any(String));
    expect(json.error.message).toEqual(expect.any(String));
    expect(json.error.field).toBe(field);
    expect(api.replicator.proposed.length).toBe(proposed);
    expect(api.t.store.checksum()).toBe(before);
  });
});

describe('hostile shapes within the body limit', () => {
  it('answers metadata nested 5,000 deep with 400 metadata_too_deep and stores nothing', async () => {
    using api = openTestApi();
    // Built as text: JSON.stringify itself recurses.
    const body = `{"id":"deep","content":"x","metadata":${'{"a":'.repeat(4_999)}{}${'}'.repeat(4_999)}}`;
    const res = await api.call('POST', '/api/v1/documents', body);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: 'metadata_too_deep', field: 'metadata', message: expect.stringContaining('metadata_depth_max (32') } });
    expect(api.replicator.proposed).toHaveLength(0);
  });

  it('still reads form-encoded search and assemble bodies (the guide\'s curl -d)', async () => {
    using api = openTestApi();
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    expect((await api.call('POST', '/api/v1/search', { query: 'q' }, form)).status).toBe(200);
    expect((await api.call('POST', '/api/v1/assemble', { query: 'q' }, form)).status).toBe(200);
  });

  it('accepts +json content types and an allowed or same origin', async () => {
    using api = openTestApi({ config: testConfig({ server: { allowed_origins: ['https://app.example'] } }) });
    expect((await api.call('POST', '/api/v1/documents', { content: 'a' }, { 'content-type': 'application/vnd.cairn+json; charset=utf-8' })).status).toBe(201);
    expect((await api.call('POST', '/api/v1/documents', { content: 'b' }, { Origin: 'https://app.example', 'Sec-Fetch-Site': 'cross-site' })).status).toBe(201);
    expect((await api.call('POST', 'http://localhost/api/v1/documents', { content: 'c' }, { Origin: 'http://localhost' })).status).toBe(201);
  });
});

describe('the bearer token', () => {
  it('is required on the API when server.auth_token is set, and /health stays open', async () => {
    using api = openTestApi({ config: testConfig({ server: { auth_token: 's3cret' } }) });
    expect((await api.call('POST', '/api/v1/documents', { content: 'x' })).status).toBe(401);
    const wrong = await api.call('POST', '/api/v1/documents', { content: 'x' }, { Authorization: 'Bearer nope' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await api.call('POST', '/api/v1/documents', { content: 'x' }, { Authorization: 'Bearer s3cret' })).status).toBe(201);
    expect((await api.call('GET', '/health')).status).toBe(200);
    expect(api.replicator.proposed).toHaveLength(1);
  });
});
